"""Event triggers through the real server: one pipeline's end starts another (with the upstream
result as ``params.event``), filters, failures, CRUD, and the chain-depth and cycle guards."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from api_support import create_pipeline, execute, json_of, wait_done

Client = TestClient[Any, Any]

PRODUCE = {
    "steps": [{"id": "make", "action": "set_output", "params": {"values": {"model": "llama"}}}],
}
CONSUME = {
    "steps": [
        {
            "id": "read",
            "action": "transform",
            "params": {"input": "{{ params.event.outputs.model }}", "operation": "uppercase"},
        }
    ],
    "outputs": {"got": "{{ steps.read.output.result }}", "from": "{{ params.event.execution_id }}"},
}
NOOP = {"steps": [{"id": "hello", "action": "log", "params": {"message": "hi"}}]}
FAIL = {"steps": [{"id": "boom", "action": "fail", "params": {"message": "no"}}]}


async def executions_of(client: Client, pipeline_id: str, count: int) -> list[dict[str, Any]]:
    """The pipeline's executions once there are at least `count` of them (oldest first)."""
    items: list[dict[str, Any]] = []
    for _ in range(1000):
        page = await json_of(
            client, "GET", "/budpipeline/executions", params={"pipeline_id": pipeline_id}, expect=200
        )
        items = page["items"]
        if len(items) >= count:
            break
        await asyncio.sleep(0.01)
    assert len(items) >= count, items
    return list(reversed(items))


async def firings(client: Client, trigger_id: str, count: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for _ in range(1000):
        items = (await json_of(client, "GET", f"/event-triggers/{trigger_id}/firings", expect=200))["items"]
        if len(items) >= count:
            break
        await asyncio.sleep(0.01)
    return items


async def trigger(client: Client, target: str, event_type: str, **fields: Any) -> dict[str, Any]:
    body = {"pipeline_id": target, "name": f"on {event_type}", "event_type": event_type, **fields}
    created: dict[str, Any] = await json_of(client, "POST", "/event-triggers", json=body, expect=201)
    return created


async def test_one_pipelines_end_starts_the_next_with_the_upstream_result(api: Client) -> None:
    upstream = await create_pipeline(api, PRODUCE, name="up")
    downstream = await create_pipeline(api, CONSUME, name="down")
    created = await trigger(
        api, downstream["id"], "execution.completed", filter={"pipeline_id": upstream["id"]}, priority="high"
    )
    assert created["is_active"] is True and created["max_chain_depth"] == 5
    first = await execute(api, upstream["id"])
    await wait_done(api, first["id"])
    [started] = await executions_of(api, downstream["id"], 1)
    done = await wait_done(api, started["id"])
    assert done["outputs"] == {"got": "LLAMA", "from": first["id"]}
    assert done["priority"] == "high"
    assert done["params"]["event"]["type"] == "execution.completed"
    [firing] = await firings(api, created["id"], 1)
    assert firing["status"] == "fired" and firing["execution_id"] == started["id"]
    assert firing["source_execution_id"] == first["id"]


async def test_filters_and_failure_events(api: Client) -> None:
    source = await create_pipeline(api, FAIL, name="fails")
    other = await create_pipeline(api, NOOP, name="other")
    notify = await create_pipeline(api, NOOP, name="notify")
    await trigger(
        api, notify["id"], "execution.failed", filter={"pipeline_id": source["id"], "tags": ["prod"]}
    )
    await trigger(api, notify["id"], "execution.completed", filter={"pipeline_id": source["id"]})
    await wait_done(api, (await execute(api, source["id"], tags=["dev"]))["id"])  # tag filter: no
    await wait_done(api, (await execute(api, other["id"], tags=["prod"]))["id"])  # other pipeline: no
    failed = await execute(api, source["id"], tags=["prod", "x"])
    await wait_done(api, failed["id"])
    [started] = await executions_of(api, notify["id"], 1)
    assert (await wait_done(api, started["id"]))["params"]["event"]["status"] == "failed"
    page = await json_of(
        api, "GET", "/budpipeline/executions", params={"pipeline_id": notify["id"]}, expect=200
    )
    assert page["total"] == 1


async def test_a_cycle_is_refused_and_recorded(api: Client) -> None:
    a = await create_pipeline(api, NOOP, name="a")
    b = await create_pipeline(api, NOOP, name="b")
    await trigger(api, b["id"], "execution.completed", filter={"pipeline_id": a["id"]})
    back = await trigger(api, a["id"], "execution.completed", filter={"pipeline_id": b["id"]})
    await wait_done(api, (await execute(api, a["id"]))["id"])
    [b_run] = await executions_of(api, b["id"], 1)
    await wait_done(api, b_run["id"])
    [refused] = await firings(api, back["id"], 1)
    assert refused["status"] == "skipped" and refused["reason"].startswith("cycle")
    assert refused["execution_id"] is None
    page = await json_of(api, "GET", "/budpipeline/executions", params={"pipeline_id": a["id"]}, expect=200)
    assert page["total"] == 1


async def test_allowed_cycles_stop_at_the_chain_depth(api: Client) -> None:
    a = await create_pipeline(api, NOOP, name="a")
    b = await create_pipeline(api, NOOP, name="b")
    await trigger(
        api,
        b["id"],
        "execution.completed",
        filter={"pipeline_id": a["id"]},
        allow_cycles=True,
        max_chain_depth=3,
    )
    back = await trigger(
        api,
        a["id"],
        "execution.completed",
        filter={"pipeline_id": b["id"]},
        allow_cycles=True,
        max_chain_depth=3,
    )
    await wait_done(api, (await execute(api, a["id"]))["id"])
    # a(0) -> b(1) -> a(2) -> b(3) -> a(4) refused: depth 4 > 3.
    b_runs = await executions_of(api, b["id"], 2)
    for run in b_runs:
        await wait_done(api, run["id"])
    found = await firings(api, back["id"], 2)
    assert sorted(f["status"] for f in found) == ["fired", "skipped"]
    assert any((f["reason"] or "").startswith("chain_depth_exceeded") for f in found)
    assert len(await executions_of(api, a["id"], 2)) == 2


async def test_crud_and_validation(api: Client) -> None:
    target = await create_pipeline(api, NOOP)
    created = await trigger(api, target["id"], "execution.timeout", description="d")
    path = f"/event-triggers/{created['id']}"
    updated = await json_of(api, "PATCH", path, json={"is_active": False, "max_chain_depth": 2}, expect=200)
    assert updated["is_active"] is False and updated["max_chain_depth"] == 2 and updated["description"] == "d"
    listed = await json_of(api, "GET", "/event-triggers", params={"pipeline_id": target["id"]}, expect=200)
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    await json_of(api, "GET", "/event-triggers", params={"event_type": "model.onboarded"}, expect=422)
    bad = await json_of(
        api,
        "POST",
        "/event-triggers",
        json={
            "pipeline_id": target["id"],
            "name": "x",
            "event_type": "cluster.unhealthy",
            "max_chain_depth": 99,
        },
        expect=422,
    )
    assert {d["path"] for d in bad["error"]["details"]} == {"event_type", "max_chain_depth"}
    await json_of(api, "DELETE", path, expect=204)
    await json_of(api, "GET", path, expect=404)


@pytest.mark.parametrize("event_type", ["execution.completed", "execution.cancelled"])
async def test_inactive_triggers_do_not_fire(api: Client, event_type: str) -> None:
    source = await create_pipeline(api, NOOP, name="s")
    target = await create_pipeline(api, NOOP, name="t")
    created = await trigger(
        api, target["id"], event_type, filter={"pipeline_id": source["id"]}, is_active=False
    )
    await wait_done(api, (await execute(api, source["id"]))["id"])
    # A second, active trigger on the same event proves the listener ran for this execution.
    probe = await create_pipeline(api, NOOP, name="probe")
    await trigger(api, probe["id"], "execution.completed", filter={"pipeline_id": source["id"]})
    await wait_done(api, (await execute(api, source["id"]))["id"])
    if event_type == "execution.completed":
        await executions_of(api, probe["id"], 1)
    assert (await json_of(api, "GET", f"/event-triggers/{created['id']}/firings", expect=200))["items"] == []
