"""`create_many` against the real server: exactly once, in order, per-item errors, bounded sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from batch_support import NOOP, ConnectionSampler, executions_per_param, server_count

from budai_async import AsyncBudClient
from budai_async.batch import BatchEntry, BatchError, BatchProgress, create_many
from budai_async.errors import NotFoundError, ValidationError
from budai_server.config import ServerConfig


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    return attrs.evolve(server_config, max_concurrent_executions=256)


@pytest.fixture
async def client(bud_url: str) -> AsyncIterator[AsyncBudClient]:
    async with AsyncBudClient(base_url=bud_url, max_retries=0) as client:
        yield client


@pytest.fixture
async def pipeline_id(client: AsyncBudClient) -> str:
    return (await client.pipelines.create(name="noop", definition=NOOP)).id


async def test_two_thousand_executions_exactly_once_in_order_with_bad_items_alone(
    client: AsyncBudClient, pipeline_id: str, server_app: web.Application, bud_server: TestServer
) -> None:
    bad = {13: [1, 2], 700: {"n": float("nan")}, 1999: "text"}
    pulled = 0

    def param_sets() -> Iterator[Any]:  # a generator: the input is streamed, never a list
        nonlocal pulled
        for n in range(2000):
            pulled += 1
            yield bad.get(n, {"n": n})

    snapshots: list[BatchProgress] = []
    sockets: list[int] = []

    def on_progress(progress: BatchProgress) -> None:
        snapshots.append(progress)
        stats = client.connection_stats()
        sockets.append(stats["in_use"] + stats["idle"])

    async with ConnectionSampler(bud_server) as sampler:
        result = await create_many(
            client.executions,
            pipeline_id,
            param_sets(),
            concurrency=4,
            chunk_size=100,
            wait=True,
            on_progress=on_progress,
        )
    assert pulled == 2000
    assert len(result) == 2000
    assert [item.index for item in result] == list(range(2000))
    for item in result:
        if item.index in bad:
            assert item.error is not None and item.execution is None
            assert item.error.code == "invalid_item"
            assert item.error.field == f"items[{item.index}].params"
        else:
            assert item.execution is not None and item.error is None
            assert item.execution.params == {"n": item.index}
            assert item.execution.status == "completed"
            assert item.execution.outputs == {"n": item.index}
    assert result.counts.created == 1997 and result.counts.completed == 1997 and result.counts.errors == 3
    # the server holds exactly one execution per good item
    assert await server_count(server_app) == 1997
    per_param = await executions_per_param(server_app)
    assert set(per_param.values()) == {1} and len(per_param) == 1997
    assert len({e.id for e in result.executions}) == 1997
    # bounded: at most `concurrency` HTTP connections, plus the status websocket
    assert max(sockets) <= 4
    assert sampler.peak <= 4 + 1
    final = snapshots[-1]
    assert (final.total, final.submitted, final.created, final.rejected, final.completed) == (
        2000,
        2000,
        1997,
        3,
        1997,
    )
    assert final.running == 0
    assert [s.submitted for s in snapshots] == sorted(s.submitted for s in snapshots)
    with pytest.raises(BatchError) as caught:
        result.raise_for_failures()
    assert [item.index for item in caught.value.failures] == sorted(bad)


async def test_server_refusals_are_reported_per_item(client: AsyncBudClient, pipeline_id: str) -> None:
    entries: list[Any] = [
        {"n": 0},
        BatchEntry(params={"n": 1}, priority="urgent"),
        BatchEntry(params={"n": 2}, tags=["solo"], priority="high"),
        BatchEntry(params={"n": 3}, callbacks={"on_complete": "ftp://nope"}),
    ]
    result = await create_many(client, pipeline_id, entries, tags=["all"], priority="low")
    assert [item.created for item in result] == [True, False, True, False]
    assert result[1].error is not None and result[1].error.field == "items[1].priority"
    assert result[1].error.status == 422
    assert result[3].error is not None and result[3].error.field == "items[3].callbacks.on_complete"
    first, third = result[0].execution, result[2].execution
    assert first is not None and third is not None
    assert (first.tags, str(first.priority)) == (["all"], "low")
    assert (third.tags, str(third.priority)) == (["solo"], "high")  # an entry's own options win
    assert result.counts.pending + result.counts.completed == 2


async def test_async_source_and_same_batch_key_replays(
    client: AsyncBudClient, pipeline_id: str, server_app: web.Application
) -> None:
    async def param_sets() -> AsyncIterator[dict[str, int]]:
        for n in range(30):
            if n % 10 == 0:
                await asyncio.sleep(0.01)
            yield {"n": n}

    first = await create_many(client, pipeline_id, param_sets(), chunk_size=7, batch_key="nightly-42")
    again = await create_many(client, pipeline_id, param_sets(), chunk_size=11, batch_key="nightly-42")
    assert [i.execution.id for i in first if i.execution] == [i.execution.id for i in again if i.execution]
    assert [item.idempotency_key for item in first] == [f"nightly-42-{n}" for n in range(30)]
    assert await server_count(server_app) == 30
    other = await create_many(client, pipeline_id, [{"n": 0}])
    assert other[0].execution is not None and other[0].execution.id != first[0].execution.id  # type: ignore[union-attr]


@pytest.mark.parametrize("batch_key", ["", "two\nlines", "k" * 256])
async def test_a_bad_batch_key_is_refused_before_sending(
    client: AsyncBudClient, pipeline_id: str, server_app: web.Application, batch_key: str
) -> None:
    """Like an idempotency key: "" used to become a fresh random key, so a rerun created again."""
    with pytest.raises(ValidationError, match="batch_key"):
        await create_many(client, pipeline_id, [{"n": 0}], batch_key=batch_key)
    assert await server_count(server_app) == 0


async def test_chunks_split_when_the_server_refuses_their_size(
    make_bud_server: Any, server_config: ServerConfig
) -> None:
    server = await make_bud_server(max_body_bytes=4096)
    async with AsyncBudClient(base_url=str(server.make_url("")).rstrip("/"), max_retries=0) as client:
        pipeline = await client.pipelines.create(name="noop", definition=NOOP)
        big = [{"n": n, "pad": "x" * 300} for n in range(40)]
        result = await create_many(client, pipeline.id, big, chunk_size=40, chunk_bytes=64 * 1024)
        assert result.counts.created == 40
        assert [item.execution.params["n"] for item in result if item.execution] == list(range(40))
        too_big = await create_many(client, pipeline.id, [{"n": 0, "pad": "x" * 8000}])
        assert too_big[0].error is not None and too_big[0].error.status == 413


async def test_rate_limit_spreads_submissions(client: AsyncBudClient, pipeline_id: str) -> None:
    started = time.monotonic()
    result = await create_many(client, pipeline_id, ({"n": n} for n in range(60)), rate_limit=100)
    assert result.counts.created == 60
    assert time.monotonic() - started >= 0.5  # 60 items at 100/s: the last second's worth waits ~0.6 s


async def test_fail_fast_stops_sending_and_raises(
    client: AsyncBudClient, pipeline_id: str, server_app: web.Application
) -> None:
    items: list[Any] = [{"n": n} for n in range(500)]
    items[5] = BatchEntry(params={"n": 5}, priority="bogus")
    with pytest.raises(BatchError) as caught:
        await create_many(client, pipeline_id, items, chunk_size=10, concurrency=1, fail_fast=True)
    result = caught.value.result
    assert result[5].error is not None and result[5].error.code == "invalid"
    created = await server_count(server_app)
    assert created < 500 and created == result.counts.created
    assert all(item.error.code == "not_submitted" for item in result[created + 1 :] if item.error)


async def test_progress_callback_may_be_async(client: AsyncBudClient, pipeline_id: str) -> None:
    seen: list[int] = []

    async def on_progress(progress: BatchProgress) -> None:
        await asyncio.sleep(0)
        seen.append(progress.created)

    await create_many(
        client, pipeline_id, [{"n": n} for n in range(25)], chunk_size=10, on_progress=on_progress
    )
    assert seen[-1] == 25 and seen == sorted(seen)


async def test_unknown_pipeline_raises_not_found(client: AsyncBudClient) -> None:
    with pytest.raises(NotFoundError):
        await create_many(client, "pipe_missing", [{"n": 1}] * 50, chunk_size=5)
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("budai-batch")] == []


@pytest.mark.parametrize(
    "options",
    [
        {"concurrency": 0},
        {"chunk_size": 0},
        {"chunk_size": 1001},
        {"chunk_bytes": 10},
        {"max_retries": -1},
        {"wait_timeout": 5},
        {"wait": True, "wait_timeout": 0},
        {"tags": "one-string"},
        {"rate_limit": 0},
    ],
)
async def test_bad_options_raise_before_sending(client: AsyncBudClient, options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        await create_many(client, "pipe_any", [{"n": 1}], **options)


async def test_an_error_in_the_source_ends_the_batch_with_that_error(
    client: AsyncBudClient, pipeline_id: str
) -> None:
    def param_sets() -> Iterator[dict[str, int]]:
        for n in range(300):
            if n == 250:
                raise RuntimeError("the params file is truncated")
            yield {"n": n}

    with pytest.raises(RuntimeError, match="truncated"):
        await create_many(client, pipeline_id, param_sets(), chunk_size=50, concurrency=2)
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("budai-batch")] == []
