"""Every documented operation, called on the real server, answers as /openapi.json says.

One scenario walks the API with hand-built requests: for each operation at least one valid request
(a documented 2xx, or 101 for a websocket, with a body valid against the documented schema) and at
least one invalid request (a documented 4xx with the `Error` body). `Contract.call` fails on any
undocumented status, missing header or schema mismatch; the last assertions fail when an operation
of the document was not exercised both ways. Websocket frames are checked against `x-websocket`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer
from openapi_contract import Client, Contract, operations
from trigger_calls import trigger_calls

from budai_server.openapi import build_document

KEY = "contract-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
UNKNOWN_PIPELINE = "pipe_" + "0" * 32
UNKNOWN_EXECUTION = "exec_" + "0" * 32
HELLO = {
    "parameters": {"who": {"type": "string", "default": "world"}},
    "steps": [{"id": "greet", "action": "log", "params": {"message": "hello {{ params.who }}"}}],
}
SLOW = {"steps": [{"id": "nap", "action": "delay", "params": {"seconds": 30}}]}

ClientFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
async def setup(make_bud_server: Any, aiohttp_client: ClientFactory) -> tuple[Contract, Client, str]:
    server: TestServer = await make_bud_server(
        api_key=KEY, max_body_bytes=256 * 1024, callback_retry_schedule=(0.0,)
    )
    client = await aiohttp_client(server, headers=AUTH)
    return Contract(build_document()), client, str(server.make_url("")).rstrip("/")


async def _terminal(contract: Contract, client: Client, execution_id: str) -> dict[str, Any]:
    execution: dict[str, Any] = await contract.call(
        client,
        "GET",
        "/budpipeline/executions/{execution_id}",
        200,
        path_params={"execution_id": execution_id},
        params={"wait": "5"},
    )
    assert execution["status"] == "completed", execution
    return execution


async def _service(contract: Contract, client: Client) -> None:
    await contract.call(client, "GET", "/health", 200, headers={"Authorization": ""})
    await contract.call(client, "GET", "/openapi.json", 200, headers={"Authorization": ""})
    await contract.call(client, "GET", "/ready", 200)
    text = await contract.call(client, "GET", "/metrics", 200)
    assert "budai" in text
    for method, path, operation in operations(contract.document):
        if operation.get("security") == []:
            continue
        params = {name: ("pipe_x" if "pipeline" in name else "exec_x") for name in _path_names(path)}
        await contract.call(client, method, path, 401, path_params=params, headers={"Authorization": ""})


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


async def _actions(contract: Contract, client: Client) -> None:
    page = await contract.call(client, "GET", "/budpipeline/actions", 200)
    assert page["total"] == len(page["actions"]) > 0
    path = "/budpipeline/actions/{action_type}"
    alias = await contract.call(client, "GET", path, 200, path_params={"action_type": "wait"})
    assert alias["type"] == "delay"
    await contract.call(client, "GET", path, 404, path_params={"action_type": "no_such_action"})


async def _pipelines(contract: Contract, client: Client) -> str:
    """Create, read, change and refuse pipelines; returns the id of the one left standing."""
    valid = await contract.call(client, "POST", "/budpipeline/validate", 200, json={"definition": HELLO})
    invalid = await contract.call(
        client, "POST", "/budpipeline/validate", 200, json={"dag": {"steps": [{"id": "x", "action": "nope"}]}}
    )
    assert valid["valid"] and not invalid["valid"] and invalid["errors"]
    await contract.call(client, "POST", "/budpipeline/validate", 400, data=b"[1, 2]")
    body = {"name": "hello", "definition": HELLO, "tags": ["contract"]}
    headers = {**AUTH, "Idempotency-Key": "contract-create-1"}
    created = await contract.call(client, "POST", "/budpipeline", 201, json=body, headers=headers)
    replayed = await contract.call(client, "POST", "/budpipeline", 201, json=body, headers=headers)
    assert replayed == created and contract.last_headers["Idempotent-Replayed"] == "true"
    await contract.call(client, "POST", "/budpipeline", 422, json={**body, "tags": []}, headers=headers)
    await contract.call(
        client, "POST", "/budpipeline", 400, json=body, headers={**AUTH, "Idempotency-Key": " "}
    )
    await contract.call(client, "POST", "/budpipeline", 400, data=b"{not json")
    await contract.call(client, "POST", "/budpipeline", 422, json={**body, "colour": "red"})
    bad_definition = {"name": "bad", "definition": {"steps": [{"id": "a", "action": "nope"}]}}
    refused = await contract.call(client, "POST", "/budpipeline", 422, json=bad_definition)
    assert refused["error"]["code"] == "invalid_definition"
    await contract.call(client, "POST", "/budpipeline", 413, json={**body, "description": "x" * 300_000})
    page = await contract.call(
        client, "GET", "/budpipeline", 200, params={"limit": "5", "name_contains": "hel"}
    )
    assert created["id"] in [item["id"] for item in page["items"]]
    await contract.call(client, "GET", "/budpipeline", 422, params={"limit": "0"})
    path = "/budpipeline/{pipeline_id}"
    ids = {"pipeline_id": created["id"]}
    unknown = {"pipeline_id": UNKNOWN_PIPELINE}
    await contract.call(client, "GET", path, 200, path_params=ids)
    await contract.call(client, "GET", path, 404, path_params=unknown)
    patched = await contract.call(client, "PATCH", path, 200, path_params=ids, json={"description": "hi"})
    assert patched["version"] == 2
    await contract.call(client, "PATCH", path, 422, path_params=ids, json={})
    await contract.call(
        client, "PUT", path, 200, path_params=ids, json={"dag": {**HELLO, "name": "from dag"}}
    )
    await contract.call(client, "PUT", path, 404, path_params=unknown, json=body)
    doomed = await contract.call(client, "POST", "/budpipeline", 201, json={**body, "name": "doomed"})
    await contract.call(client, "DELETE", path, 204, path_params={"pipeline_id": doomed["id"]})
    await contract.call(client, "DELETE", path, 404, path_params={"pipeline_id": doomed["id"]})
    return str(created["id"])


async def _executions(contract: Contract, client: Client, pipeline_id: str, base_url: str) -> str:
    """Run, read, retry and cancel executions; returns the id of a completed one."""
    execute = "/budpipeline/{pipeline_id}/execute"
    ids = {"pipeline_id": pipeline_id}
    options = {
        "params": {"who": "contract"},
        "priority": "high",
        "tags": ["contract", "first"],
        "callbacks": {"on_complete": f"{base_url}/health"},
        "timeout_seconds": 60,
    }
    headers = {**AUTH, "Idempotency-Key": "contract-execute-1"}
    first = await contract.call(client, "POST", execute, 201, path_params=ids, json=options, headers=headers)
    await contract.call(client, "POST", execute, 201, path_params=ids, json=options, headers=headers)
    await contract.call(client, "POST", execute, 201, path_params=ids)  # no body at all
    await contract.call(client, "POST", execute, 422, path_params=ids, json={"priority": "urgent"})
    await contract.call(
        client, "POST", execute, 422, path_params=ids, json={"callbacks": {"on_complete": "http://["}}
    )
    await contract.call(client, "POST", execute, 404, path_params={"pipeline_id": UNKNOWN_PIPELINE})
    done = await _terminal(contract, client, first["id"])
    one = "/budpipeline/executions/{execution_id}"
    await contract.call(client, "GET", one, 404, path_params={"execution_id": UNKNOWN_EXECUTION})
    await contract.call(
        client, "GET", one, 422, path_params={"execution_id": done["id"]}, params={"wait": "-1"}
    )
    exec_ids = {"execution_id": done["id"]}
    progress = "/budpipeline/executions/{execution_id}/progress"
    view = await contract.call(client, "GET", progress, 200, path_params=exec_ids)
    assert view["aggregated_progress"]["eta_seconds"] == 0
    await contract.call(client, "GET", progress, 404, path_params={"execution_id": UNKNOWN_EXECUTION})
    for route in ("steps", "events"):
        path = f"/budpipeline/executions/{{execution_id}}/{route}"
        listed = await contract.call(client, "GET", path, 200, path_params=exec_ids)
        assert listed["total"] == len(listed["items"]) > 0
        await contract.call(client, "GET", path, 404, path_params={"execution_id": UNKNOWN_EXECUTION})
    await _callbacks(contract, client, done["id"])
    retry = "/budpipeline/executions/{execution_id}/retry"
    again = await contract.call(
        client, "POST", retry, 201, path_params=exec_ids, json={"params": {"who": "b"}}
    )
    assert again["retry_of"] == done["id"]
    await contract.call(client, "POST", retry, 404, path_params={"execution_id": UNKNOWN_EXECUTION})
    await contract.call(client, "POST", retry, 422, path_params=exec_ids, json={"tags": "one"})
    run = await contract.call(client, "POST", "/budpipeline/run", 201, json={"pipeline_definition": HELLO})
    assert run["pipeline_id"] is None
    await contract.call(client, "POST", "/budpipeline/run", 422, json={"params": {}})
    await _cancel(contract, client)
    return str(done["id"])


async def _callbacks(contract: Contract, client: Client, execution_id: str) -> None:
    """The delivery to /health (answered 405) is attempted once and then given up."""
    path = "/budpipeline/executions/{execution_id}/callbacks"
    for _ in range(200):
        page = await contract.call(client, "GET", path, 200, path_params={"execution_id": execution_id})
        if page["items"] and page["items"][0]["attempts"] and page["items"][0]["status"] != "pending":
            break
        await asyncio.sleep(0.025)
    assert page["items"][0]["attempts"][0]["status_code"] == 405, page
    await contract.call(client, "GET", path, 404, path_params={"execution_id": UNKNOWN_EXECUTION})


async def _cancel(contract: Contract, client: Client) -> None:
    slow = await contract.call(client, "POST", "/budpipeline/run", 201, json={"definition": SLOW})
    ids = {"execution_id": slow["id"]}
    retry = "/budpipeline/executions/{execution_id}/retry"
    refused = await contract.call(client, "POST", retry, 409, path_params=ids)
    assert refused["error"]["code"] == "execution_not_finished"
    cancel = "/budpipeline/executions/{execution_id}/cancel"
    ended = await contract.call(client, "POST", cancel, 200, path_params=ids)
    assert ended["status"] == "cancelled"
    await contract.call(client, "POST", cancel, 409, path_params=ids)
    await contract.call(client, "POST", cancel, 404, path_params={"execution_id": UNKNOWN_EXECUTION})
    await contract.call(client, "POST", cancel, 422, path_params=ids, json={"reason": "bored"})


async def _listing(contract: Contract, client: Client) -> None:
    path = "/budpipeline/executions"
    query = {"status": "completed,cancelled", "tags": "contract", "sort_by": "completed_at", "limit": "1"}
    page = await contract.call(client, "GET", path, 200, params=query)
    assert page["next_cursor"], page
    after = {**query, "cursor": page["next_cursor"], "created_after": "2000-01-01"}
    await contract.call(client, "GET", path, 200, params=after)
    await contract.call(client, "GET", path, 422, params={"status": "sleeping"})
    await contract.call(client, "GET", path, 422, params={"cursor": "not-a-cursor"})


async def _logs(contract: Contract, client: Client, execution_id: str) -> None:
    path = "/budpipeline/executions/{execution_id}/logs"
    ids = {"execution_id": execution_id}
    page = await contract.call(
        client, "GET", path, 200, path_params=ids, params={"level": "info", "limit": "1"}
    )
    assert page["items"] and page["next_seq"] == page["items"][-1]["seq"]
    await contract.call(client, "GET", path, 422, path_params=ids, params={"limit": "0", "since": "soon"})
    await contract.call(client, "GET", path, 422, path_params=ids, params={"after_seq": str(2**64)})
    await contract.call(client, "GET", path, 404, path_params={"execution_id": UNKNOWN_EXECUTION})
    stream = "/budpipeline/executions/{execution_id}/logs/stream"
    await contract.call(client, "GET", stream, 400, path_params=ids)
    await contract.call(client, "GET", stream, 422, path_params=ids, params={"level": "loud"})
    await contract.call(client, "GET", stream, 404, path_params={"execution_id": UNKNOWN_EXECUTION})
    frames = contract.frames_validator("GET", stream, "serverFrames")
    kinds = []
    async with client.ws_connect(f"/budpipeline/executions/{execution_id}/logs/stream") as ws:
        contract.upgraded("GET", stream)
        async for message in ws:
            assert message.type is WSMsgType.TEXT, message
            frame = json.loads(message.data)
            frames.validate(frame)
            kinds.append(frame["type"])
    assert kinds[0] == "lines" and kinds[-1] == "end", kinds


async def _fan_out(contract: Contract, client: Client, pipeline_id: str, done_id: str) -> None:
    batch = "/budpipeline/{pipeline_id}/execute/batch"
    ids = {"pipeline_id": pipeline_id}
    items = [
        {"params": {"who": "a"}, "idempotency_key": "contract-batch-0"},
        {"priority": "urgent"},
        {"callbacks": {"on_complete": "http://["}},  # urlsplit raises on this host
    ]
    result = await contract.call(
        client, "POST", batch, 200, path_params=ids, json={"defaults": {"tags": ["b"]}, "items": items}
    )
    assert [item["status"] for item in result["items"]] == [201, 422, 422]
    await contract.call(client, "POST", batch, 422, path_params=ids, json={"items": []})
    await contract.call(client, "POST", batch, 413, path_params=ids, json={"items": [{}] * 1001})
    await contract.call(
        client, "POST", batch, 404, path_params={"pipeline_id": UNKNOWN_PIPELINE}, json={"items": [{}]}
    )
    wait = "/budpipeline/executions/wait"
    answer = await contract.call(
        client, "POST", wait, 200, json={"ids": [done_id, "exec_nope"], "timeout": 1}
    )
    assert [item["id"] for item in answer["items"]] == [done_id] and answer["unknown"] == ["exec_nope"]
    await contract.call(client, "POST", wait, 422, json={"ids": []})
    await contract.call(client, "POST", wait, 413, json={"ids": [f"exec_{n}" for n in range(1001)]})
    watch = "/budpipeline/executions/watch"
    await contract.call(client, "GET", watch, 400)
    await contract.call(client, "GET", watch, 422, params={"since": "2024-01-01"})
    server_frames = contract.frames_validator("GET", watch, "serverFrames")
    client_frames = contract.frames_validator("GET", watch, "clientFrames")
    async with client.ws_connect(watch, params={"ids": done_id, "heartbeat": "0.05"}) as ws:
        contract.upgraded("GET", watch)
        subscribe = {"type": "subscribe", "ids": ["exec_unknown"]}
        client_frames.validate(subscribe)
        await ws.send_json(subscribe)
        frames: list[dict[str, Any]] = []
        while not _watch_seen_all(frames):
            frames.append(await asyncio.wait_for(ws.receive_json(), 5))
            server_frames.validate(frames[-1])
        await ws.send_str("not json")
        reply = {"type": "heartbeat"}
        while reply["type"] == "heartbeat":
            reply = await asyncio.wait_for(ws.receive_json(), 5)
            server_frames.validate(reply)
        assert reply["type"] == "error", reply
    sent = [e["id"] for frame in frames if frame["type"] == "executions" for e in frame["items"]]
    assert sent == [done_id], frames


def _watch_seen_all(frames: list[dict[str, Any]]) -> bool:
    """The ended execution, the unknown id's subscription and a heartbeat have all come."""
    kinds = {frame["type"] for frame in frames}
    unknown = any(frame["type"] == "subscribed" and frame["unknown"] for frame in frames)
    return {"executions", "heartbeat"} <= kinds and unknown


async def _cleanup(contract: Contract, client: Client, pipeline_id: str, done_id: str) -> None:
    bulk = "/budpipeline/executions/delete"
    counted = await contract.call(
        client, "POST", bulk, 200, json={"pipeline_id": pipeline_id, "status": "completed", "dry_run": True}
    )
    assert counted["deleted"] >= 1 and counted["dry_run"] is True
    await contract.call(client, "POST", bulk, 422, json={"dry_run": True})
    await contract.call(client, "POST", bulk, 422, json={"status": ["running"]})
    one = "/budpipeline/executions/{execution_id}"
    await contract.call(client, "DELETE", one, 204, path_params={"execution_id": done_id})
    await contract.call(client, "DELETE", one, 404, path_params={"execution_id": done_id})
    slow = await contract.call(client, "POST", "/budpipeline/run", 201, json={"pipeline_definition": SLOW})
    await contract.call(client, "DELETE", one, 409, path_params={"execution_id": slow["id"]})
    cancel = "/budpipeline/executions/{execution_id}/cancel"
    await contract.call(client, "POST", cancel, 200, path_params={"execution_id": slow["id"]})
    deleted = await contract.call(
        client, "POST", bulk, 200, json={"tags": ["contract"], "created_after": "2000-01-01"}
    )
    assert deleted["dry_run"] is False


async def test_every_operation_answers_as_documented(setup: tuple[Contract, Client, str]) -> None:
    contract, client, base_url = setup
    await _service(contract, client)
    await _actions(contract, client)
    pipeline_id = await _pipelines(contract, client)
    done_id = await _executions(contract, client, pipeline_id, base_url)
    await _listing(contract, client)
    await _logs(contract, client, done_id)
    await _fan_out(contract, client, pipeline_id, done_id)
    await _cleanup(contract, client, pipeline_id, done_id)
    await trigger_calls(contract, client, pipeline_id)

    everything = {operation["operationId"] for _m, _p, operation in operations(contract.document)}
    assert everything - contract.succeeded == set(), "operations never answered with success"
    public = {op["operationId"] for _m, _p, op in operations(contract.document) if op.get("security") == []}
    assert everything - public - contract.refused == set(), "operations never refused a request"
    without_error_case = {
        op_id
        for op_id in everything - public
        if contract.statuses[op_id] & {400, 404, 409, 413, 422} == set()
    }
    assert without_error_case <= {"getReadiness", "getMetrics", "listActions"}, without_error_case


def test_contract_helper_refuses_undocumented_answers() -> None:
    """The checker itself: an undocumented status, a bad body and a missing header all fail."""
    contract = Contract(build_document())
    headers = {"X-Request-ID": "r1", "Content-Type": "application/json"}
    ok = json.dumps({"status": "ok"}).encode()
    assert contract.check_answer("GET", "/health", 200, headers, ok) == {"status": "ok"}
    with pytest.raises(AssertionError, match="not documented"):
        contract.check_answer("GET", "/health", 500, headers, ok)
    with pytest.raises(AssertionError, match="status"):
        contract.check_answer("GET", "/health", 200, headers, b'{"status": "fine"}')
    with pytest.raises(AssertionError, match="X-Request-ID"):
        contract.check_answer("GET", "/health", 200, {"Content-Type": "application/json"}, ok)
    pipeline: dict[str, Any] = {
        "id": "pipe_1",
        "name": "n",
        "description": None,
        "definition": {},
        "tags": {},
        "status": "active",
        "is_active": True,
        "icon": None,
        "version": 1,
        "step_count": 0,
        "created_at": "yesterday",
        "updated_at": None,
        "dag": {},
    }
    with pytest.raises(AssertionError, match=r"created_at.*date-time"):
        contract.check_answer(
            "GET", "/budpipeline/{pipeline_id}", 200, headers, json.dumps(pipeline).encode()
        )
