"""Cancelling a batch mid-way: no task left behind, no socket left open, the client still usable.

The server runs on its own thread and loop here, so every task on the test's loop is the client's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from batch_support import DELAY, NOOP, threaded_server

from budai_async import AsyncBudClient
from budai_async.batch import BatchProgress, as_completed, create_many, wait_all
from budai_server.config import ServerConfig


@pytest.fixture
def server_url(server_config: ServerConfig) -> Iterator[str]:
    with threaded_server(attrs.evolve(server_config, max_concurrent_executions=256)) as url:
        yield url


def _other_tasks() -> list[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return [task for task in asyncio.all_tasks() if task is not current and not task.done()]


async def test_cancel_mid_batch_leaves_nothing_behind(server_url: str) -> None:
    async with AsyncBudClient(base_url=server_url) as client:
        pipeline = await client.pipelines.create(name="noop", definition=NOOP)
        halfway = asyncio.Event()

        def on_progress(progress: BatchProgress) -> None:
            if progress.created >= 200:
                halfway.set()

        async def slow_source() -> Any:
            for n in range(100_000):
                if n % 50 == 0:
                    await asyncio.sleep(0.001)
                yield {"n": n}

        batch = asyncio.create_task(
            create_many(
                client,
                pipeline.id,
                slow_source(),
                concurrency=4,
                chunk_size=50,
                wait=True,
                on_progress=on_progress,
            )
        )
        await asyncio.wait_for(halfway.wait(), 20)
        batch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await batch
        await asyncio.sleep(0)
        assert _other_tasks() == []
        assert client.connection_stats()["in_use"] == 0
        # the client still works: a new batch runs to its end
        again = await create_many(client, pipeline.id, [{"n": n} for n in range(20)], wait=True)
        assert again.counts.completed == 20
    assert _other_tasks() == []


async def test_cancel_while_awaiting_closes_the_subscription(server_url: str) -> None:
    async with AsyncBudClient(base_url=server_url) as client:
        pipeline = await client.pipelines.create(name="delay", definition=DELAY)
        result = await create_many(client, pipeline.id, [{"seconds": 5.0}, {"seconds": 0.0}])
        waiting = asyncio.create_task(wait_all(client, result.executions))
        await asyncio.sleep(0.3)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.sleep(0)
        assert _other_tasks() == []

        async with as_completed(client, result.executions) as stream:
            first = await anext(stream)
        assert first.id == result.executions[1].id
        assert _other_tasks() == []  # leaving the `async with` early closed the subscription
        await client.executions.cancel(result.executions[0].id)
