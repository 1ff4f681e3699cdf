"""`Idempotency-Key` on POST: replay, conflicts, scope per route, survival across a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from api_support import LOG_DEFINITION, Client, create_pipeline, delay_definition, json_of

from budai_server.metrics import Metrics
from budai_server.routes.errors import make_error_middleware
from budai_server.routes.middleware import make_idempotency_middleware
from budai_server.store.database import Store


async def post(api: Client, path: str, body: Any, key: str, expect: int) -> tuple[Any, Any]:
    response = await api.post(path, json=body, headers={"Idempotency-Key": key})
    text = await response.text()
    assert response.status == expect, text
    return (await response.json() if text else None), response.headers


async def count_executions(api: Client) -> int:
    page = await json_of(api, "GET", "/budpipeline/executions", expect=200)
    return int(page["total"])


async def test_repeating_an_execute_replays_the_first_answer(api: Client) -> None:
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    path = f"/budpipeline/{pipeline['id']}/execute"
    body = {"params": {"who": "once"}, "tags": ["a"]}
    first, first_headers = await post(api, path, body, "key-1", 201)
    assert "Idempotent-Replayed" not in first_headers
    reordered = {"tags": ["a"], "params": {"who": "once"}}  # same JSON, other key order
    again, headers = await post(api, path, reordered, "key-1", 201)
    assert again == first
    assert headers["Idempotent-Replayed"] == "true"
    assert await count_executions(api) == 1


async def test_a_reused_key_with_another_body_is_refused(api: Client) -> None:
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    path = f"/budpipeline/{pipeline['id']}/execute"
    await post(api, path, {"params": {"who": "a"}}, "key-2", 201)
    error, _ = await post(api, path, {"params": {"who": "b"}}, "key-2", 422)
    assert error["error"]["code"] == "idempotency_key_reused"
    assert error["error"]["details"][0]["path"] == "Idempotency-Key"
    assert await count_executions(api) == 1


async def test_keys_are_scoped_to_their_route(api: Client) -> None:
    first = await create_pipeline(api, LOG_DEFINITION, name="one")
    second = await create_pipeline(api, LOG_DEFINITION, name="two")
    a, _ = await post(api, f"/budpipeline/{first['id']}/execute", {}, "shared", 201)
    b, _ = await post(api, f"/budpipeline/{second['id']}/execute", {}, "shared", 201)
    assert a["id"] != b["id"]


async def test_pipeline_create_run_cancel_and_retry_are_idempotent(api: Client) -> None:
    body = {"name": "idem", "definition": LOG_DEFINITION}
    created, _ = await post(api, "/budpipeline", body, "create", 201)
    replayed, _ = await post(api, "/budpipeline", body, "create", 201)
    assert replayed == created
    assert (await json_of(api, "GET", "/budpipeline", expect=200))["total"] == 1

    run, _ = await post(api, "/budpipeline/run", {"pipeline_definition": delay_definition(10)}, "run", 201)
    assert (await post(api, "/budpipeline/run", {"pipeline_definition": delay_definition(10)}, "run", 201))[
        0
    ] == run
    cancel_path = f"/budpipeline/executions/{run['id']}/cancel"
    cancelled, _ = await post(api, cancel_path, {}, "cancel", 200)
    again, headers = await post(api, cancel_path, {}, "cancel", 200)  # a plain repeat would be 409
    assert again == cancelled and headers["Idempotent-Replayed"] == "true"
    await post(api, cancel_path, {}, "another-key", 409)

    retry_path = f"/budpipeline/executions/{run['id']}/retry"
    retried, _ = await post(api, retry_path, {}, "retry", 201)
    assert (await post(api, retry_path, {}, "retry", 201))[0] == retried
    assert await count_executions(api) == 2
    await json_of(api, "POST", f"/budpipeline/executions/{retried['id']}/cancel", expect=200)


async def test_errors_are_not_stored(api: Client) -> None:
    bad = {"name": "x", "definition": {"steps": [{"id": "a", "action": "nope"}]}}
    await post(api, "/budpipeline", bad, "fix-me", 422)
    good = {"name": "x", "definition": LOG_DEFINITION}
    await post(api, "/budpipeline", good, "fix-me", 201)


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "caf\u00e9\u00a0key"])
async def test_a_malformed_key_is_a_400(api: Client, key: str) -> None:
    response = await api.post("/budpipeline/run", json={}, headers={"Idempotency-Key": key})
    assert response.status == 400
    assert (await response.json())["error"]["details"][0]["path"] == "Idempotency-Key"


async def test_keys_survive_a_restart(aiohttp_client: Any, make_bud_server: Any) -> None:
    server = await make_bud_server()
    client = await aiohttp_client(server)
    first, _ = await post(client, "/budpipeline/run", {"pipeline_definition": LOG_DEFINITION}, "durable", 201)
    await client.close()
    await server.close()

    restarted = await make_bud_server()
    client = await aiohttp_client(restarted)
    again, headers = await post(
        client, "/budpipeline/run", {"pipeline_definition": LOG_DEFINITION}, "durable", 201
    )
    assert again == first and headers["Idempotent-Replayed"] == "true"
    assert await count_executions(client) == 1


async def test_a_request_still_in_flight_gets_409(aiohttp_client: Any, tmp_path: Any) -> None:
    """The middleware itself, around a handler that waits: the second request must not run it."""
    release = asyncio.Event()
    entered = asyncio.Event()
    calls = 0

    async def slow(_request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        entered.set()
        await release.wait()
        return web.json_response({"n": calls}, status=201)

    async with Store(tmp_path / "idem.db") as store:
        app = web.Application(
            middlewares=[make_error_middleware(Metrics()), make_idempotency_middleware(lambda _r: store)]
        )
        app.router.add_post("/slow", slow)
        client: TestClient[web.Request, web.Application] = await aiohttp_client(TestServer(app))
        first = asyncio.create_task(client.post("/slow", json={}, headers={"Idempotency-Key": "k"}))
        await entered.wait()
        second = await client.post("/slow", json={}, headers={"Idempotency-Key": "k"})
        assert second.status == 409
        assert (await second.json())["error"]["code"] == "idempotency_key_in_progress"
        release.set()
        assert (await (await first).json()) == {"n": 1}
        third = await client.post("/slow", json={}, headers={"Idempotency-Key": "k"})
        assert (third.status, await third.json(), calls) == (201, {"n": 1}, 1)


async def test_keys_older_than_the_ttl_are_forgotten_at_start(
    aiohttp_client: Any, make_bud_server: Any
) -> None:
    server = await make_bud_server()
    client = await aiohttp_client(server)
    first, _ = await post(
        client, "/budpipeline/run", {"pipeline_definition": LOG_DEFINITION}, "short-lived", 201
    )
    await client.close()
    await server.close()
    await asyncio.sleep(0.05)

    restarted = await make_bud_server(idempotency_ttl_seconds=0.01)
    client = await aiohttp_client(restarted)
    again, headers = await post(
        client, "/budpipeline/run", {"pipeline_definition": LOG_DEFINITION}, "short-lived", 201
    )
    assert again["id"] != first["id"] and "Idempotent-Replayed" not in headers
    assert await count_executions(client) == 2
