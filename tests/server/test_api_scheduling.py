"""Admission under the concurrency limit: priority order, cancel while queued, graceful shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from api_support import Client, delay_definition, json_of, steps_of, wait_done


@pytest.fixture
async def single(aiohttp_client: Any, make_bud_server: Any) -> Client:
    client: Client = await aiohttp_client(await make_bud_server(max_concurrent_executions=1))
    return client


async def start(client: Client, definition: dict[str, Any], **body: Any) -> Any:
    return await json_of(
        client, "POST", "/budpipeline/run", json={"pipeline_definition": definition, **body}, expect=201
    )


async def test_priority_orders_admission_fifo_within_a_level(single: Client) -> None:
    blocker = await start(single, delay_definition(0.3))
    queued = []
    for name, priority in [
        ("low1", "low"),
        ("n1", "normal"),
        ("h1", "high"),
        ("low2", "low"),
        ("h2", "high"),
        ("n2", "normal"),
    ]:
        created = await start(single, delay_definition(0.01), priority=priority, tags=[name])
        queued.append(created["id"])
    metrics = await (await single.get("/metrics")).text()
    assert "budai_queue_depth 6" in metrics
    done = [await wait_done(single, execution_id) for execution_id in [blocker["id"], *queued]]
    assert all(execution["status"] == "completed" for execution in done)
    by_start = sorted(done[1:], key=lambda execution: execution["started_at"])
    assert [execution["tags"][0] for execution in by_start] == ["h1", "h2", "n1", "n2", "low1", "low2"]
    assert done[0]["completed_at"] <= by_start[0]["started_at"]  # no preemption, one slot


async def test_cancelling_a_queued_execution_ends_it_at_once(single: Client) -> None:
    blocker = await start(single, delay_definition(10))
    queued = await start(single, delay_definition(0.01))
    cancelled = await json_of(single, "POST", f"/budpipeline/executions/{queued['id']}/cancel", expect=200)
    assert cancelled["status"] == "cancelled"
    assert cancelled["started_at"] is None
    assert {(step["status"], step["skip_reason"]) for step in steps_of(cancelled).values()} == {
        ("skipped", "execution_cancelled")
    }
    await json_of(single, "POST", f"/budpipeline/executions/{blocker['id']}/cancel", expect=200)
    await asyncio.sleep(0.05)  # the freed slot must not run the cancelled execution
    again = await json_of(single, "GET", f"/budpipeline/executions/{queued['id']}", expect=200)
    assert (again["status"], again["started_at"]) == ("cancelled", None)


async def test_graceful_shutdown_leaves_work_to_resume(aiohttp_client: Any, make_bud_server: Any) -> None:
    server = await make_bud_server(max_concurrent_executions=1, shutdown_grace_seconds=0.05)
    client = await aiohttp_client(server)
    running = await start(client, delay_definition(0.5, steps=2))
    queued = await start(client, delay_definition(0.01))
    for _ in range(200):
        current = await json_of(client, "GET", f"/budpipeline/executions/{running['id']}", expect=200)
        if current["status"] == "running":
            break
        await asyncio.sleep(0.01)
    await client.close()
    await server.close()  # SIGTERM path: grace passes, the running execution is interrupted

    restarted = await aiohttp_client(await make_bud_server(max_concurrent_executions=1))
    resumed = await wait_done(restarted, running["id"])
    assert resumed["status"] == "completed"
    assert resumed["started_at"] == current["started_at"]
    assert (await wait_done(restarted, queued["id"]))["status"] == "completed"


async def test_shutdown_answers_open_long_polls_at_once(aiohttp_client: Any, make_bud_server: Any) -> None:
    server = await make_bud_server(shutdown_grace_seconds=0.05, long_poll_max_seconds=30)
    client = await aiohttp_client(server)
    running = await start(client, delay_definition(20))
    poll = asyncio.create_task(client.get(f"/budpipeline/executions/{running['id']}", params={"wait": "30"}))
    await asyncio.sleep(0.1)
    started = asyncio.get_running_loop().time()
    await server.close()
    response = await poll
    assert asyncio.get_running_loop().time() - started < 5
    assert response.status == 200
    assert (await response.json())["status"] in ("pending", "running")


async def test_a_deadline_that_passed_while_down_ends_it_as_timeout(
    aiohttp_client: Any, make_bud_server: Any
) -> None:
    server = await make_bud_server(shutdown_grace_seconds=0.01)
    client = await aiohttp_client(server)
    created = await start(client, delay_definition(5), timeout_seconds=0.5)
    for _ in range(200):
        current = await json_of(client, "GET", f"/budpipeline/executions/{created['id']}", expect=200)
        if current["status"] == "running":
            break
        await asyncio.sleep(0.01)
    await client.close()
    await server.close()
    await asyncio.sleep(0.6)
    restarted = await aiohttp_client(await make_bud_server())
    ended = await json_of(restarted, "GET", f"/budpipeline/executions/{created['id']}", expect=200)
    assert ended["status"] == "timeout"
    assert "while the server was down" in ended["error"]
