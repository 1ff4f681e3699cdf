"""Handler time limits (`receiver.deadlines`): one shared timer cancels each call at its own
deadline as TimeoutError, leaves calls that finish alone, and lets other cancellations through."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from receiver.deadlines import Deadlines


async def test_a_call_over_the_limit_raises_timeout_and_its_task_is_not_left_cancelling() -> None:
    deadlines = Deadlines(0.02)

    async def call() -> int:
        with pytest.raises(TimeoutError):
            await deadlines.run(asyncio.sleep(10))
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling()

    assert await asyncio.create_task(call()) == 0


async def test_one_timer_serves_calls_that_start_at_different_times() -> None:
    deadlines = Deadlines(0.05)
    outcomes: dict[str, str] = {}

    async def call(name: str, seconds: float) -> None:
        try:
            await deadlines.run(asyncio.sleep(seconds))
            outcomes[name] = "done"
        except TimeoutError:
            outcomes[name] = "timeout"

    first = asyncio.create_task(call("slow-1", 10))
    await asyncio.sleep(0.02)
    others = [asyncio.create_task(call("slow-2", 10)), asyncio.create_task(call("fast", 0))]
    await asyncio.gather(first, *others)
    assert outcomes == {"slow-1": "timeout", "slow-2": "timeout", "fast": "done"}
    assert deadlines._timer is None  # nothing running: nothing armed
    assert not deadlines._running
    assert not deadlines._expired


async def test_an_outside_cancellation_is_not_turned_into_a_timeout() -> None:
    deadlines = Deadlines(10.0)
    started = asyncio.Event()

    async def call() -> None:
        started.set()
        await deadlines.run(asyncio.sleep(10))

    task = asyncio.create_task(call())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadlines.close()
    assert not deadlines._running


async def test_a_call_that_swallows_the_cancellation_returns_and_is_uncancelled() -> None:
    deadlines = Deadlines(0.02)

    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # a badly behaved handler
            await asyncio.sleep(10)

    async def call() -> int:
        await deadlines.run(stubborn())
        await asyncio.sleep(0)  # no cancellation left pending for the next await
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling()

    assert await asyncio.create_task(call()) == 0


async def test_no_limit_arms_no_timer() -> None:
    deadlines = Deadlines(None)
    await deadlines.run(asyncio.sleep(0))
    assert deadlines._timer is None
