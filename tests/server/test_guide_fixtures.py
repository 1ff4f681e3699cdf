"""`--guide-fixtures`: the guide's sample ids exist, their definitions are valid, a restart adds nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from process_support import call, server_process

from budai_server.config import ServerConfig
from budai_server.fixtures import CLUSTERS, EXECUTIONS, MODELS, PIPELINES, install
from budai_server.store.database import Store
from budai_server.store.inventory import CLUSTER, MODEL


async def test_the_cli_flag_creates_what_the_guide_names(tmp_path: Path) -> None:
    async with (
        server_process(tmp_path / "guide.db", "--guide-fixtures") as (_process, url),
        aiohttp.ClientSession() as session,
    ):
        pipeline = await call(session, "GET", f"{url}/budpipeline/pipe_abc123")
        assert (pipeline["name"], len(pipeline["definition"]["steps"])) == ("Deploy Model", 5)
        await call(session, "GET", f"{url}/budpipeline/pipe_batch_process")
        ended: dict[str, Any] = {}
        for execution_id, *_rest in EXECUTIONS:
            ended[execution_id] = await call(
                session, "GET", f"{url}/budpipeline/executions/{execution_id}", params={"wait": "20"}
            )
        assert {i: e["status"] for i, e in ended.items()} == {
            "exec_abc121": "completed",
            "exec_abc122": "failed",
            "exec_abc123": "completed",
            "exec_batch_process": "completed",
        }
        assert ended["exec_abc123"]["outputs"]["status"] == "success"


async def test_every_fixture_definition_is_valid(bud_server: Any, api: Any) -> None:
    for _pipeline_id, _name, _description, definition in PIPELINES:
        response = await api.post("/budpipeline/validate", json={"definition": definition})
        body = await response.json()
        assert (response.status, body["valid"], body["errors"]) == (200, True, [])


async def test_install_is_idempotent_and_fills_the_inventory(server_config: ServerConfig) -> None:
    async with Store(server_config.db_path) as store:
        first = await install(store)
        again = await install(store)
        assert first == [row[0] for row in EXECUTIONS] and again == []
        for model in MODELS:
            assert await store.inventory_get(MODEL, model["id"]) is not None
        for cluster in CLUSTERS:
            assert await store.inventory_get(CLUSTER, cluster["id"]) is not None
        held = await store.get_execution("exec_abc123")
        assert held is not None and held.params["warmup_seconds"] == 0


async def test_a_server_without_the_flag_has_none_of_it(make_bud_server: Any) -> None:
    server = await make_bud_server()
    async with aiohttp.ClientSession() as session:
        response = await session.get(server.make_url("/budpipeline/pipe_abc123"))
        assert response.status == 404
