"""Group commit: the claims of one event-loop tick are stored by one `claim_many` call, each request
gets its own answer from the one batch result, a cancelled request neither cancels the batch nor
strands its stored event, and a failed batch gives every request a 503 and its slot back. The
dispatcher's finishes of one tick are one `finish_many` call; a failed one leaves its events to be
released and run again. On Redis each batch is one script call (one round trip)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from rx_support import REDIS_URL, SECRET, Recorder, payload, signed, wait_for

from receiver import CallbackEvent, Receiver
from receiver.claims import ClaimBatcher
from receiver.dispatch import Dispatcher, DispatchSettings, Job
from receiver.events import parse_event
from receiver.handlers import Handlers
from receiver.metrics import Metrics
from receiver.stores import RedisStore, SQLiteStore, Store, StoreError
from receiver.stores.base import Claim, Finish


class CountingStore(SQLiteStore):
    """The real SQLite store, recording each `claim_many` batch (and failing on demand)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[list[str]] = []
        self.finishes: list[list[str]] = []
        self.fail = False
        self.fail_finishes = 0

    async def claim_many(self, claims: Sequence[Claim]) -> list[bool]:
        self.batches.append([claim[0] for claim in claims])
        if self.fail:
            raise StoreError("disk on fire")
        return await super().claim_many(claims)

    async def finish_many(self, finished: Sequence[Finish]) -> None:
        self.finishes.append([record[0] for record in finished])
        if self.fail_finishes:
            self.fail_finishes -= 1
            raise StoreError("disk on fire")
        await super().finish_many(finished)


def _dispatcher(store: Store) -> Dispatcher:
    return Dispatcher(store, Handlers(), Metrics(), DispatchSettings(workers=1))


async def test_claims_of_one_tick_are_one_batch(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "r.db")
    await store.open()
    dispatcher = _dispatcher(store)
    batcher = ClaimBatcher(store, dispatcher)
    event = parse_event(payload())
    waits = []
    for event_id in ("msg_a", "msg_b", "msg_a", "msg_c"):  # msg_a twice: the first one wins
        assert dispatcher.try_reserve()
        waits.append(batcher.add(event_id, b"{}", event, 1.0))
    answers = [(await result)[index] for result, index in waits]
    assert answers == [True, True, False, True]
    assert store.batches == [["msg_a", "msg_b", "msg_a", "msg_c"]]
    assert dispatcher.depth == 3  # the new ones are queued, the duplicate's slot is returned
    # the next tick is the next batch; an id seen before is a duplicate there too
    assert dispatcher.try_reserve()
    result, index = batcher.add("msg_b", b"{}", event, 2.0)
    assert (await result)[index] is False
    assert store.batches[-1] == ["msg_b"]
    await store.close()


async def test_a_cancelled_waiter_leaves_the_batch_and_its_event_alone(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "r.db")
    await store.open()
    dispatcher = _dispatcher(store)
    batcher = ClaimBatcher(store, dispatcher)
    event = parse_event(payload())
    dispatcher.try_reserve()
    dispatcher.try_reserve()
    first = batcher.add("msg_1", b"{}", event, 1.0)
    second = batcher.add("msg_2", b"{}", event, 1.0)

    async def wait(pair: Any) -> bool:
        result, index = pair
        answers: list[bool] = await result
        return answers[index]

    cancelled = asyncio.create_task(wait(first))
    other = asyncio.create_task(wait(second))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await other is True
    assert not first[0].cancelled() and first[0].result() == [True, True]
    assert await store.state("msg_1") == "pending"  # stored, and queued for its handlers
    assert dispatcher.depth == 2
    await store.close()


async def test_a_failed_batch_answers_503_to_each_request_and_frees_their_slots(
    tmp_path: Path, serve: Any
) -> None:
    store = CountingStore(tmp_path / "r.db")
    recorder = Recorder()
    receiver = Receiver(SECRET, store=store, handlers=recorder.handlers, queue_limit=4)
    client = await serve(receiver)
    store.fail = True
    bodies = [payload() for _ in range(4)]
    responses = await asyncio.gather(*(client.post("/webhooks", data=b, headers=signed(b)) for b in bodies))
    assert [r.status for r in responses] == [503] * 4
    assert all(r.headers["Retry-After"] for r in responses)
    store.fail = False
    assert receiver.runtime is not None
    assert receiver.runtime.dispatcher.idle  # every reserved slot came back
    responses = await asyncio.gather(*(client.post("/webhooks", data=b, headers=signed(b)) for b in bodies))
    assert sorted(r.status for r in responses) == [202] * 4
    await wait_for(lambda: len(recorder.ids()) == 4)
    assert sum(len(batch) for batch in store.batches) == 8


async def test_finishes_of_one_tick_are_one_batch(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "r.db")
    await store.open()
    handlers = Handlers()
    seen: list[str] = []

    @handlers.on("execution.*", name="record")
    async def record(event: CallbackEvent) -> None:
        seen.append(event.execution_id)

    dispatcher = Dispatcher(store, handlers, Metrics(), DispatchSettings(workers=4, poll_interval=60))
    await dispatcher.start()
    ids = [f"msg_{n}" for n in range(8)]
    assert await store.claim_many([(event_id, payload(f"exec_{n}"), 1.0) for n, event_id in enumerate(ids)])
    for n, event_id in enumerate(ids):
        assert dispatcher.try_reserve()
        dispatcher.submit(Job(id=event_id, body=b"", event=parse_event(payload(f"exec_{n}"))))
    await wait_for(lambda: dispatcher.idle)
    assert sorted(seen) == sorted(f"exec_{n}" for n in range(8))
    assert store.finishes == [ids]  # the handlers never waited, so one tick finished them all
    assert dispatcher.in_flight == 0
    assert [await store.state(event_id) for event_id in ids] == ["done"] * 8
    await dispatcher.stop(1.0)
    await store.close()


async def test_a_failed_finish_leaves_the_events_to_run_again(tmp_path: Path, serve: Any) -> None:
    store = CountingStore(tmp_path / "r.db")
    store.fail_finishes = 1
    recorder = Recorder()
    receiver = Receiver(SECRET, store=store, handlers=recorder.handlers, poll_interval=0.05)
    client = await serve(receiver)
    body = payload("exec_again")
    assert (await client.post("/webhooks", data=body, headers=signed(body, "msg_again"))).status == 202

    async def done() -> bool:
        return await store.state("msg_again") == "done"

    await wait_for(done)
    assert store.finishes == [["msg_again"], ["msg_again"]]  # released, taken back, finished again
    # its two handlers had each recorded their success, so the second run did not repeat them
    assert recorder.ids("completed") == ["exec_again"]
    assert receiver.metrics.dispatched == 1


class CommandCount:
    """Counts the commands a redis-py client sends (each is one round trip here: no pipelines)."""

    def __init__(self, store: RedisStore) -> None:
        client = store._client()
        self.count = 0
        send = client.execute_command

        async def counted(*args: Any, **options: Any) -> Any:
            self.count += 1
            return await send(*args, **options)

        client.execute_command = counted  # type: ignore[method-assign]


@pytest.mark.redis
async def test_redis_claims_and_finishes_a_batch_in_one_script_call(redis_prefix: str) -> None:
    first, second = RedisStore(REDIS_URL, prefix=redis_prefix), RedisStore(REDIS_URL, prefix=redis_prefix)
    await first.open()
    await second.open()
    try:
        # Load both scripts first: on a Redis that has not seen them yet, redis-py's first EVALSHA
        # fails and it loads the script and sends it again (3 commands), whichever test runs first.
        await first.claim_many([("warm-up", b"{}", 0.5)])
        await first.finish_many([("warm-up", {}, 0.5)])
        commands = CommandCount(first)
        assert await first.claim_many([("m1", b"{}", 1.0), ("m2", b"{}", 1.0), ("m1", b"{}", 1.0)]) == [
            True,
            True,
            False,
        ]
        assert commands.count == 1
        assert await second.claim_many([("m2", b"{}", 2.0), ("m3", b"{}", 2.0)]) == [False, True]
        assert await first.claim_many([]) == []
        assert await first.state("m3") == "pending"
        commands.count = 0
        await first.finish_many([("m1", {}, 3.0), ("m2", {"h": "RuntimeError: x"}, 4.0), ("gone", {}, 5.0)])
        assert commands.count == 1
        assert [await first.state(m) for m in ("m1", "m2", "gone")] == ["done", "dead", None]
        [letter] = await second.dead_letters()
        assert (letter.id, letter.failed_at, dict(letter.failures)) == ("m2", 4.0, {"h": "RuntimeError: x"})
        assert [e.id for e in await second.acquire(limit=10)] == []  # m3 is still first's
    finally:
        await first.close()
        await second.close()
