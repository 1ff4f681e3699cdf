"""`as_completed` and `wait_all` over the status subscription, against the real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from aiohttp import web
from batch_support import DELAY, NOOP

from budai_async import AsyncBudClient
from budai_async.batch import BatchEntry, as_completed, create_many, wait_all
from budai_async.batch._watch import StatusWatch, WatchOptions
from budai_async.errors import NotFoundError, TimeoutError, ValidationError
from budai_async.models import Execution
from budai_server.config import ServerConfig
from budai_server.routes.watch import WATCH_SOCKETS

FAST = WatchOptions(heartbeat_seconds=0.2, reconnect_base_seconds=0.01, reconnect_max_seconds=0.05)


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    return attrs.evolve(server_config, max_concurrent_executions=64)


@pytest.fixture
async def client(bud_url: str) -> AsyncIterator[AsyncBudClient]:
    async with AsyncBudClient(base_url=bud_url) as client:
        yield client


async def _delays(client: AsyncBudClient, seconds: list[float]) -> list[Execution]:
    pipeline = await client.pipelines.create(name="delay", definition=DELAY)
    result = await create_many(client, pipeline.id, [{"seconds": s} for s in seconds])
    return result.executions


@pytest.mark.parametrize("method", ["websocket", "longpoll"])
async def test_as_completed_yields_each_once_as_it_ends(client: AsyncBudClient, method: Any) -> None:
    executions = await _delays(client, [1.0, 0.0, 0.5, 0.25])
    loop = asyncio.get_running_loop()
    seen: list[tuple[Execution, float]] = []
    async with as_completed(client.executions, executions, method=method) as stream:
        assert stream.remaining == 4
        async for execution in stream:
            seen.append((execution, loop.time()))
        assert stream.remaining == 0
    order = [execution.params["seconds"] for execution, _ in seen]
    assert order == [0.0, 0.25, 0.5, 1.0]  # in the order they ended, not the order given
    assert all(execution.is_terminal for execution, _ in seen)
    # "as it ends": the first one came well before the last one ended
    assert seen[-1][1] - seen[0][1] >= 0.4


async def test_wait_all_keeps_input_order_and_duplicates(client: AsyncBudClient) -> None:
    executions = await _delays(client, [0.2, 0.0, 0.1])
    refs: list[Any] = [executions[0].id, executions[1], executions[2].id, executions[0]]
    done = await wait_all(client.executions, refs, timeout=10)
    assert [e.id for e in done] == [executions[0].id, executions[1].id, executions[2].id, executions[0].id]
    assert all(e.status == "completed" for e in done)


async def test_already_ended_executions_are_yielded_without_a_subscription(client: AsyncBudClient) -> None:
    executions = await _delays(client, [0.0, 0.0])
    ended = await wait_all(client, executions)
    stream = as_completed(client, ended)
    assert [e.id async for e in stream] == [e.id for e in ended]
    assert stream._watch.transport is None  # nothing was opened


async def test_timeout_raises_and_the_socket_is_closed(client: AsyncBudClient) -> None:
    executions = await _delays(client, [0.0, 5.0])
    stream = as_completed(client, executions, timeout=0.5)
    got = []
    with pytest.raises(TimeoutError) as caught:
        async for execution in stream:
            got.append(execution.id)
    assert got == [executions[0].id]
    assert "1 execution(s) did not end within 0.5 s" in str(caught.value)
    assert [t for t in asyncio.all_tasks() if t.get_name() == "budai-status-watch"] == []


async def test_unknown_id_raises_not_found(client: AsyncBudClient) -> None:
    with pytest.raises(NotFoundError):
        await wait_all(client, ["exec_does_not_exist"], timeout=5)


@pytest.mark.parametrize("bad", [[""], [42], [None]])
async def test_bad_refs_are_rejected(client: AsyncBudClient, bad: list[Any]) -> None:
    with pytest.raises(ValidationError):
        await wait_all(client, bad)


async def test_break_inside_async_with_closes_the_subscription(client: AsyncBudClient) -> None:
    executions = await _delays(client, [0.0, 5.0])
    async with as_completed(client, executions) as stream:
        async for _execution in stream:
            break
    assert [t for t in asyncio.all_tasks() if t.get_name() == "budai-status-watch"] == []


async def test_reconnects_after_the_server_drops_the_socket_without_repeats(
    client: AsyncBudClient, server_app: web.Application
) -> None:
    executions = await _delays(client, [0.0, 0.4, 0.8])
    seen: list[str] = []
    async with StatusWatch(client, options=FAST) as watch:
        await watch.add([e.id for e in executions])
        watch.finish_adding()
        first = await watch.next()
        assert first is not None
        seen.append(first.id)
        sockets: set[web.WebSocketResponse] = server_app[WATCH_SOCKETS]
        for ws in list(sockets):  # the server goes away under the watch
            await ws.close(code=1012, message=b"restarting")
        while (execution := await watch.next()) is not None:
            seen.append(execution.id)
        assert watch.reconnects >= 1
    assert sorted(seen) == sorted(e.id for e in executions) and len(seen) == 3


async def test_create_many_with_wait_folds_in_the_final_states(client: AsyncBudClient) -> None:
    pipeline = await client.pipelines.create(name="noop", definition=NOOP)
    result = await create_many(client, pipeline.id, [{"n": n} for n in range(300)], chunk_size=64, wait=True)
    assert result.counts.completed == 300
    assert all(item.execution is not None and item.execution.outputs == {"n": item.index} for item in result)


async def test_create_many_items_are_the_executions_the_server_holds(client: AsyncBudClient) -> None:
    pipeline = await client.pipelines.create(name="noop", definition=NOOP)
    waited = await create_many(client, pipeline.id, [{"n": n} for n in range(40)], chunk_size=16, wait=True)
    for item in waited:  # each item's execution is built when read, from what the watch delivered
        assert item.execution is not None
        assert item.execution == await client.executions.get(item.execution.id)
    submitted = await create_many(client, pipeline.id, [{"n": 1}], batch_key="once")
    replayed = await create_many(client, pipeline.id, [{"n": 1}], batch_key="once")
    assert submitted[0].execution is not None and replayed[0].execution is not None
    assert submitted[0].execution.params == {"n": 1} and submitted[0].execution.id == replayed[0].execution.id


async def test_create_many_items_sharing_an_execution_are_each_reported(
    client: AsyncBudClient,
) -> None:
    pipeline = await client.pipelines.create(name="delay", definition=DELAY)
    entries = [BatchEntry(params={"seconds": 0.0}, idempotency_key="same")] * 3 + [{"seconds": 0.0}]
    result = await create_many(client, pipeline.id, entries, chunk_size=1, concurrency=1, wait=True)
    assert [item.idempotency_key for item in result][:3] == ["same"] * 3
    assert len({item.execution.id for item in result if item.execution}) == 2
    # a replay answered after the shared execution was handed out keeps the answer's state
    assert result.counts.created == 4 and result.counts.completed + result.counts.pending == 4
    assert result[0].ok and result[3].execution is not None and result[3].execution.status == "completed"


async def test_create_many_wait_timeout_returns_with_pending_items(client: AsyncBudClient) -> None:
    pipeline = await client.pipelines.create(name="delay", definition=DELAY)
    result = await create_many(
        client, pipeline.id, [{"seconds": 0.0}, {"seconds": 5.0}], wait=True, wait_timeout=0.5
    )
    assert result.counts.completed == 1 and result.counts.pending == 1
    assert result.ok  # still running is not a failure


async def test_the_executions_resource_exposes_the_fan_out_calls(client: AsyncBudClient) -> None:
    pipeline = await client.pipelines.create(name="delay", definition=DELAY)
    result = await client.executions.create_many(pipeline.id, [{"seconds": 0.1}, {"seconds": 0.0}])
    async with client.executions.as_completed(result.executions) as stream:
        first = await anext(stream)
    assert first.params == {"seconds": 0.0}
    done = await client.executions.wait_all(result.executions, timeout=10)
    assert [e.params["seconds"] for e in done] == [0.1, 0.0]
