"""The outbox worker on its own: a real store, a real endpoint, and an injected clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from outbox_support import SECRET, Endpoint, Hit, check_signature

from budai_async.models import Execution, ExecutionStatus
from budai_server.outbound import OutboundPolicy
from budai_server.outbox.delivery import Outbox, OutboxSettings
from budai_server.store.database import Store

# The endpoints of these tests listen on loopback; tests/security covers the strict policy.
LOOPBACK_ALLOWED = OutboundPolicy(allow_loopback=True)


class Clock:
    """Wall time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(tmp_path / "outbox.db") as opened:
        yield opened


async def _url(aiohttp_server: Any, endpoint: Endpoint) -> str:
    server: TestServer = await aiohttp_server(endpoint.app())
    return str(server.make_url("/hook"))


def _finished(url: str, execution_id: str = "exec_1") -> Execution:
    return Execution(
        id=execution_id,
        status=ExecutionStatus.COMPLETED,
        outputs={"n": 1},
        callbacks={"on_complete": url},
        completed_at=datetime.now(UTC),
    )


async def test_each_attempt_is_signed_with_a_fresh_timestamp(store: Store, aiohttp_server: Any) -> None:
    clock = Clock()
    endpoint = Endpoint([500, 500, 200])
    stamps: list[float] = []

    def on_hit(hit: Hit) -> None:
        # Verify at the outbox's own idea of now, then let 100 s pass before the next attempt.
        check_signature(hit, now=clock())
        stamps.append(int(hit.headers["webhook-timestamp"]))
        clock.offset += 100

    endpoint.on_hit = on_hit
    url = await _url(aiohttp_server, endpoint)
    outbox = Outbox(
        store,
        OutboxSettings(policy=LOOPBACK_ALLOWED, secret=SECRET, schedule=(0.0, 0.01, 0.01), jitter=0.0),
        clock=clock,
    )
    await outbox.start()
    try:
        assert await outbox.enqueue(_finished(url))
        await endpoint.wait_hits(3)
    finally:
        await outbox.stop()
    assert len({hit.headers["webhook-id"] for hit in endpoint.hits}) == 1
    assert stamps[1] - stamps[0] >= 100 and stamps[2] - stamps[1] >= 100


async def test_enqueue_is_idempotent_and_skips_executions_without_a_url(store: Store) -> None:
    outbox = Outbox(store, OutboxSettings(policy=LOOPBACK_ALLOWED, secret=SECRET, schedule=(3600.0,)))
    await outbox.start()
    try:
        execution = _finished("http://127.0.0.1:9/hook")
        assert await outbox.enqueue(execution)
        assert not await outbox.enqueue(execution)
        assert not await outbox.enqueue(Execution(id="exec_2", status=ExecutionStatus.RUNNING))
        assert not await outbox.enqueue(
            Execution(id="exec_3", status=ExecutionStatus.FAILED, callbacks={"on_complete": "http://x/"})
        )
        ((delivery, attempts),) = await outbox.deliveries("exec_1")
        assert (delivery.status, delivery.attempts, attempts) == ("pending", 0, [])
    finally:
        await outbox.stop()


async def test_idle_worker_sleeps_until_the_next_row_is_due(store: Store, aiohttp_server: Any) -> None:
    """No busy polling: while nothing is due the worker reads the table only when woken."""
    endpoint = Endpoint()
    url = await _url(aiohttp_server, endpoint)
    outbox = Outbox(
        store, OutboxSettings(policy=LOOPBACK_ALLOWED, secret=SECRET, schedule=(0.3,), jitter=0.0)
    )
    reads = 0
    due = outbox.records.due

    async def counting_due(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return await due(*args, **kwargs)

    outbox.records.due = counting_due  # type: ignore[method-assign]
    await outbox.start()
    try:
        await asyncio.sleep(0.2)
        assert reads == 1  # the read at start, then sleeping on the wake event
        started = time.monotonic()
        await outbox.enqueue(_finished(url))  # due in 0.3 s: one read on the wake, one when due
        await endpoint.wait_hits(1)
        assert time.monotonic() - started >= 0.29
        await asyncio.sleep(0.05)
        assert reads <= 6  # start, wake, timer, the attempt's end (+ slack for an early timer)
    finally:
        await outbox.stop()
