"""Graceful shutdown in-process: in-flight work finishes within the grace period; what does not
is released to the store and dispatched by the next start."""

from __future__ import annotations

import asyncio
from typing import Any

from rx_support import PATH, SECRET, Recorder, Serve, payload, signed, wait_for

from receiver import CallbackEvent, Receiver


def _slow_recorder(delay: float, started: list[str]) -> Recorder:
    recorder = Recorder()

    @recorder.handlers.on("slow.*", name="slow")
    async def slow(event: CallbackEvent) -> None:
        started.append(event.execution_id)
        await asyncio.sleep(delay)
        recorder.any.append(event)

    return recorder


async def _post(client: Any, n: int) -> None:
    body = payload(f"exec_{n}", "slow.event")
    response = await client.post(PATH, data=body, headers=signed(body, f"msg_{n}"))
    assert response.status == 202


async def test_shutdown_finishes_in_flight_and_queued_work(serve: Serve, db_url: str) -> None:
    started: list[str] = []
    recorder = _slow_recorder(0.2, started)
    receiver = Receiver(SECRET, store=db_url, handlers=recorder.handlers, workers=2)
    client = await serve(receiver)
    for n in range(4):
        await _post(client, n)
    await wait_for(lambda: len(started) == 2)
    await client.close()  # runs on_shutdown and the cleanup context
    assert sorted(recorder.ids()) == [f"exec_{n}" for n in range(4)]
    assert receiver.runtime is not None and receiver.runtime.state == "stopped"
    async with receiver.store:
        assert [await receiver.store.state(f"msg_{n}") for n in range(4)] == ["done"] * 4


async def test_work_past_the_grace_period_is_redispatched_on_next_start(serve: Serve, db_url: str) -> None:
    started: list[str] = []
    stuck = _slow_recorder(3600, started)
    first = Receiver(SECRET, store=db_url, handlers=stuck.handlers, workers=1, shutdown_timeout=0.1)
    client = await serve(first)
    for n in range(3):
        await _post(client, n)
    await wait_for(lambda: started == ["exec_0"])
    await client.close()
    assert stuck.ids() == []

    started.clear()
    quick = _slow_recorder(0, started)
    second = Receiver(SECRET, store=db_url, handlers=quick.handlers, poll_interval=0.05)
    await serve(second)
    await wait_for(lambda: sorted(quick.ids()) == ["exec_0", "exec_1", "exec_2"])
    assert second.metrics.recovered == 3
