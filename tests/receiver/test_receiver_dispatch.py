"""Dispatch behaviour: exactly-once under concurrent duplicates, retries, dead letters, replay,
recovery of pending events at start, patterns and timeouts."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rx_support import PATH, SECRET, Recorder, Serve, payload, signed, wait_for

from receiver import CallbackEvent, HandlerFailure, Receiver, SQLiteStore


def make(db_url: str, recorder: Recorder, **options: Any) -> Receiver:
    options.setdefault("retry_base_delay", 0.01)
    options.setdefault("retry_max_delay", 0.05)
    options.setdefault("poll_interval", 0.05)
    return Receiver(SECRET, store=db_url, handlers=recorder.handlers, **options)


async def test_fifty_concurrent_identical_deliveries_dispatch_once(serve: Serve, db_url: str) -> None:
    recorder = Recorder()
    receiver = make(db_url, recorder)
    client = await serve(receiver)
    body = payload("exec_once")
    headers = signed(body, "msg_once")
    responses = await asyncio.gather(*(client.post(PATH, data=body, headers=headers) for _ in range(50)))
    statuses = sorted(response.status for response in responses)
    assert statuses == [200] * 49 + [202]
    await wait_for(lambda: receiver.runtime is not None and receiver.runtime.dispatcher.idle)
    await asyncio.sleep(0.1)
    assert recorder.ids("completed") == ["exec_once"]
    assert recorder.ids("any") == ["exec_once"]
    assert await receiver.store.state("msg_once") == "done"


async def test_failing_handler_is_retried_alone(serve: Serve, db_url: str) -> None:
    recorder = Recorder()
    recorder.fail["completed"] = 2
    receiver = make(db_url, recorder, handler_retries=3)
    client = await serve(receiver)
    body = payload("exec_retry")
    assert (await client.post(PATH, data=body, headers=signed(body, "msg_retry"))).status == 202
    await wait_for(lambda: recorder.ids("completed") == ["exec_retry"])
    assert recorder.calls == {"completed": 3, "any": 1}
    await wait_for(lambda: receiver.runtime is not None and receiver.runtime.dispatcher.idle)
    assert await receiver.store.state("msg_retry") == "done"
    assert recorder.errors == []


async def test_exhausted_handler_dead_letters_then_replay_runs_only_it(serve: Serve, db_url: str) -> None:
    recorder = Recorder()
    recorder.fail["completed"] = 100
    failures: list[HandlerFailure] = []

    @recorder.handlers.on_error
    async def keep(event: CallbackEvent, failure: HandlerFailure) -> None:
        failures.append(failure)

    receiver = make(db_url, recorder, handler_retries=2)
    client = await serve(receiver)
    body = payload("exec_dead")
    assert (await client.post(PATH, data=body, headers=signed(body, "msg_dead"))).status == 202

    async def dead() -> bool:
        return await receiver.store.state("msg_dead") == "dead"

    await wait_for(dead)
    assert recorder.calls == {"completed": 3, "any": 1}
    assert recorder.errors == [("completed", "exec_dead")]
    assert [(f.event_id, f.handler, f.attempts, type(f.error)) for f in failures] == [
        ("msg_dead", "completed", 3, RuntimeError)
    ]
    [letter] = await receiver.store.dead_letters()
    assert letter.id == "msg_dead"
    assert letter.failures == {"completed": "RuntimeError: completed told to fail"}
    assert letter.done_handlers == {"any"}
    assert json.loads(letter.body)["execution_id"] == "exec_dead"
    metrics = await (await client.get("/metrics")).text()
    assert "budai_receiver_dead_letters_total 1" in metrics.splitlines()
    assert "budai_receiver_handler_failures_total 3" in metrics.splitlines()

    recorder.fail["completed"] = 0  # the bug is fixed; replay while the receiver runs
    assert await receiver.store.replay("msg_dead")
    assert not await receiver.store.replay("msg_dead")  # no longer dead
    await wait_for(lambda: recorder.ids("completed") == ["exec_dead"])
    await wait_for(lambda: receiver.runtime is not None and receiver.runtime.dispatcher.idle)
    assert await receiver.store.state("msg_dead") == "done"
    assert recorder.calls == {"completed": 4, "any": 1}  # the handler that had succeeded did not re-run
    assert await receiver.store.dead_letters() == []


async def test_handler_timeout_counts_as_failure(serve: Serve, db_url: str) -> None:
    recorder = Recorder()

    @recorder.handlers.on("slow.*", name="slow")
    async def slow(event: CallbackEvent) -> None:
        await asyncio.sleep(10)

    receiver = make(db_url, recorder, handler_retries=1, handler_timeout=0.05)
    client = await serve(receiver)
    body = payload(type_="slow.event")
    assert (await client.post(PATH, data=body, headers=signed(body, "msg_slow"))).status == 202

    async def dead() -> bool:
        return await receiver.store.state("msg_slow") == "dead"

    await wait_for(dead)
    [letter] = await receiver.store.dead_letters()
    assert letter.failures == {"slow": "TimeoutError: "}


async def test_patterns_route_events(serve: Serve, db_url: str) -> None:
    recorder = Recorder()
    receiver = make(db_url, recorder)
    client = await serve(receiver)
    for execution_id, type_ in [
        ("a", "execution.completed"),
        ("b", "execution.failed"),
        ("c", "execution.cancelled"),
    ]:
        body = payload(execution_id, type_)
        assert (await client.post(PATH, data=body, headers=signed(body))).status == 202
    other = payload("d", "pipeline.deleted")
    assert (await client.post(PATH, data=other, headers=signed(other, "msg_other"))).status == 202
    await wait_for(lambda: sorted(recorder.ids("any")) == ["a", "b", "c"])
    assert recorder.ids("completed") == ["a"]
    assert recorder.ids("failed") == ["b"]
    assert recorder.failed[0].status == "failed" and recorder.failed[0].error == "step failed"

    async def done() -> bool:  # no handler matches: stored, then simply marked done
        return await receiver.store.state("msg_other") == "done"

    await wait_for(done)


async def test_pending_events_from_a_previous_run_are_dispatched_at_start(serve: Serve, db_url: str) -> None:
    """Crash recovery in-process: events claimed by a run that never dispatched them."""
    path = db_url.removeprefix("sqlite:///")
    async with SQLiteStore(path) as crashed:
        for n in range(3):
            assert await crashed.claim(f"msg_{n}", payload(f"exec_{n}"), received_at=n)
        await crashed.mark_handler_done("msg_0", "any")  # it had got that far for msg_0
    recorder = Recorder()
    receiver = make(db_url, recorder)
    await serve(receiver)
    await wait_for(lambda: sorted(recorder.ids("completed")) == ["exec_0", "exec_1", "exec_2"])
    await wait_for(lambda: receiver.runtime is not None and receiver.runtime.dispatcher.idle)
    assert sorted(recorder.ids("any")) == ["exec_1", "exec_2"]
    assert receiver.metrics.recovered == 3
    for n in range(3):
        assert await receiver.store.state(f"msg_{n}") == "done"


async def test_stored_body_that_no_longer_parses_is_dead_lettered(serve: Serve, db_url: str) -> None:
    path = db_url.removeprefix("sqlite:///")
    async with SQLiteStore(path) as old:
        assert await old.claim("msg_old", b'{"no": "type"}', received_at=0)
    receiver = make(db_url, Recorder())
    await serve(receiver)

    async def dead() -> bool:
        return await receiver.store.state("msg_old") == "dead"

    await wait_for(dead)
    [letter] = await receiver.store.dead_letters()
    assert "type" in letter.failures["<parse>"]


async def test_error_hook_failure_does_not_stop_dispatch(serve: Serve, db_url: str) -> None:
    recorder = Recorder()
    recorder.fail["completed"] = 100

    @recorder.handlers.on_error
    async def broken(event: CallbackEvent, failure: HandlerFailure) -> None:
        raise ValueError("hook bug")

    receiver = make(db_url, recorder, handler_retries=0)
    client = await serve(receiver)
    for n in range(2):
        body = payload(f"exec_h{n}")
        assert (await client.post(PATH, data=body, headers=signed(body, f"msg_h{n}"))).status == 202

    async def both_dead() -> bool:
        return [await receiver.store.state(f"msg_h{n}") for n in range(2)] == ["dead", "dead"]

    await wait_for(both_dead)
    assert len(recorder.errors) == 2
