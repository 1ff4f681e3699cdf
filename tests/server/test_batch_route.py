"""`POST /budpipeline/{id}/execute/batch` spoken raw: per-item answers, limits, idempotency, admission."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from api_support import create_pipeline, json_of, step, wait_done

from budai_server.appkeys import STORE
from budai_server.config import ServerConfig

Client = TestClient[web.Request, web.Application]

NOOP: dict[str, Any] = {"steps": [step("out", "set_output", values={"n": "{{ params.n }}"})]}
DECLARED: dict[str, Any] = {
    "parameters": {"n": {"type": "integer", "required": True}},
    "steps": [step("out", "set_output", values={"n": "{{ params.n }}"})],
}


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    return attrs.evolve(server_config, max_concurrent_executions=64)


async def _batch(api: Client, pipeline_id: str, body: Any, expect: int = 200, **kwargs: Any) -> Any:
    return await json_of(
        api, "POST", f"/budpipeline/{pipeline_id}/execute/batch", json=body, expect=expect, **kwargs
    )


async def _count(server_app: web.Application) -> int:
    rows = await server_app[STORE].fetchall("SELECT COUNT(*) FROM executions")
    return int(rows[0][0])


async def test_each_item_answered_in_order_and_a_bad_item_fails_alone(
    api: Client, server_app: web.Application
) -> None:
    pipeline = await create_pipeline(api, NOOP)
    items: list[Any] = [{"params": {"n": i}} for i in range(6)]
    items[2] = {"params": {"n": 2}, "priority": "urgent"}
    items[4] = "not an object"
    answer = await _batch(
        api, pipeline["id"], {"items": items, "defaults": {"tags": ["fan"], "priority": "low"}}
    )
    assert [item["index"] for item in answer["items"]] == list(range(6))
    assert [item["status"] for item in answer["items"]] == [201, 201, 422, 201, 422, 201]
    assert answer["items"][2]["error"]["field"] == "items[2].priority"
    assert answer["items"][2]["error"]["details"][0]["path"] == "items[2].priority"
    assert answer["items"][4]["error"]["field"] == "items[4]"
    assert (answer["created"], answer["replayed"], answer["failed"]) == (4, 0, 2)
    created = [item["execution"] for item in answer["items"] if "execution" in item]
    assert [e["params"]["n"] for e in created] == [0, 1, 3, 5]
    assert all(e["tags"] == ["fan"] and e["priority"] == "low" and e["status"] == "pending" for e in created)
    assert await _count(server_app) == 4
    for execution in created:  # admitted: every one runs to its end
        done = await wait_done(api, execution["id"])
        assert done["status"] == "completed"
        assert done["outputs"] == {"n": execution["params"]["n"]}


async def test_declared_params_are_checked_per_item(api: Client) -> None:
    pipeline = await create_pipeline(api, DECLARED)
    answer = await _batch(
        api, pipeline["id"], {"items": [{"params": {"n": 1}}, {"params": {}}, {"params": {"n": "x"}}]}
    )
    assert [item["status"] for item in answer["items"]] == [201, 422, 422]
    assert answer["items"][1]["error"]["field"] == "items[1].params.n"
    assert answer["items"][2]["error"]["field"] == "items[2].params.n"


async def test_per_item_keys_replay_and_conflict(api: Client, server_app: web.Application) -> None:
    pipeline = await create_pipeline(api, NOOP)
    first = await _batch(
        api,
        pipeline["id"],
        {
            "items": [
                {"params": {"n": 1}, "idempotency_key": "a"},
                {"params": {"n": 2}, "idempotency_key": "b"},
            ]
        },
    )
    again = await _batch(
        api,
        pipeline["id"],
        {
            "items": [
                {"params": {"n": 1}, "idempotency_key": "a"},  # same content: the same execution
                {"params": {"n": 99}, "idempotency_key": "b"},  # same key, other content: refused
                {"params": {"n": 3}, "idempotency_key": "c"},
                {"params": {"n": 3}, "idempotency_key": "c"},  # a twin inside one batch: created once
            ]
        },
    )
    statuses = [item["status"] for item in again["items"]]
    assert statuses == [200, 409, 201, 200]
    assert again["items"][0]["replayed"] is True
    assert again["items"][0]["execution"]["id"] == first["items"][0]["execution"]["id"]
    assert again["items"][1]["error"]["code"] == "idempotency_key_reused"
    assert again["items"][1]["error"]["field"] == "items[1].idempotency_key"
    assert again["items"][3]["execution"]["id"] == again["items"][2]["execution"]["id"]
    assert await _count(server_app) == 3


async def test_keys_are_scoped_to_the_pipeline(api: Client) -> None:
    one = await create_pipeline(api, NOOP, name="one")
    two = await create_pipeline(api, NOOP, name="two")
    body = {"items": [{"params": {"n": 1}, "idempotency_key": "same"}]}
    a = await _batch(api, one["id"], body)
    b = await _batch(api, two["id"], body)
    assert a["items"][0]["status"] == b["items"][0]["status"] == 201
    assert a["items"][0]["execution"]["id"] != b["items"][0]["execution"]["id"]


async def test_retried_request_with_item_keys_replays_current_state(
    api: Client, server_app: web.Application
) -> None:
    pipeline = await create_pipeline(api, NOOP)
    body = {"items": [{"params": {"n": i}, "idempotency_key": f"k{i}"} for i in range(3)]}
    headers = {"Idempotency-Key": "request-1"}
    first = await _batch(api, pipeline["id"], body, headers=headers)
    await wait_done(api, first["items"][0]["execution"]["id"])
    second = await _batch(api, pipeline["id"], body, headers=headers)
    assert [item["status"] for item in second["items"]] == [200, 200, 200]
    assert second["items"][0]["execution"]["status"] == "completed"  # not a stale copy of the first answer
    assert await _count(server_app) == 3


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"items": [{}] * 1001}, 413, "items"),
        ({"items": []}, 422, "items"),
        ({"items": {"a": 1}}, 422, "items"),
        ({"items": [{}], "default": {}}, 422, "default"),
        ({"items": [{}], "defaults": {"priority": "x"}}, 422, "defaults.priority"),
    ],
)
async def test_envelope_faults_name_the_field(
    api: Client, server_app: web.Application, body: Any, status: int, field: str
) -> None:
    pipeline = await create_pipeline(api, NOOP)
    answer = await _batch(api, pipeline["id"], body, expect=status)
    assert answer["error"]["details"][0]["path"] == field
    assert await _count(server_app) == 0


async def test_body_over_the_limit_is_413_naming_body(make_bud_server: Any, aiohttp_client: Any) -> None:
    server = await make_bud_server(max_body_bytes=2048)
    api = await aiohttp_client(server)
    pipeline = await create_pipeline(api, NOOP)
    body = {"items": [{"params": {"text": "x" * 100}} for _ in range(40)]}
    answer = await _batch(api, pipeline["id"], body, expect=413)
    assert answer["error"]["code"] == "payload_too_large"
    assert answer["error"]["details"][0]["path"] == "body"


async def test_unknown_pipeline_and_bad_json(api: Client) -> None:
    missing = await _batch(api, "pipe_missing", {"items": [{}]}, expect=404)
    assert missing["error"]["code"] == "not_found"
    pipeline = await create_pipeline(api, NOOP)
    response = await api.post(
        f"/budpipeline/{pipeline['id']}/execute/batch",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"


async def test_tags_of_batch_executions_are_searchable(api: Client) -> None:
    pipeline = await create_pipeline(api, NOOP)
    await _batch(
        api, pipeline["id"], {"items": [{"params": {"n": i}, "tags": ["x", f"i{i}"]} for i in range(3)]}
    )
    page = await json_of(api, "GET", "/budpipeline/executions", params={"tags": "i1"}, expect=200)
    assert [e["params"]["n"] for e in page["items"]] == [1]
    page = await json_of(api, "GET", "/budpipeline/executions", params={"tags": "x"}, expect=200)
    assert page["total"] == 3


async def test_answer_is_json_with_request_id(api: Client) -> None:
    pipeline = await create_pipeline(api, NOOP)
    response = await api.post(f"/budpipeline/{pipeline['id']}/execute/batch", json={"items": [{}]})
    assert response.status == 200
    assert response.headers["X-Request-ID"]
    assert json.loads(await response.text())["created"] == 1
