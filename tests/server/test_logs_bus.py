"""The log bus on a real SQLite store: numbering, batching, restart, reads without gaps, subscribers."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budai_async.logs.cursor import LogFilter
from budai_server.logs.bus import LogBus, LogSettings, Subscription
from budai_server.logs.store import LogLine, LogStore, format_timestamp
from budai_server.store.database import Store

FAST = LogSettings(flush_interval_seconds=0.01, flush_batch_lines=50, subscriber_buffer_lines=20)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(tmp_path / "bus.db") as opened:
        yield opened


@pytest.fixture
async def bus(store: Store) -> AsyncIterator[LogBus]:
    started = LogBus(LogStore(store), FAST)
    await started.start()
    yield started
    await started.stop()


async def numbered(bus: LogBus, execution_id: str) -> int:
    return len(bus.memory_lines(execution_id, LogFilter())) + await bus.store.max_seq(execution_id)


async def settle(bus: LogBus, execution_id: str, count: int) -> None:
    """Wait until `count` lines of the execution are numbered (the first emit loads the last seq)."""
    async with asyncio.timeout(5):
        while True:
            if await numbered(bus, execution_id) >= count:
                return
            await asyncio.sleep(0.001)


async def stored(bus: LogBus, execution_id: str, log_filter: LogFilter | None = None) -> list[LogLine]:
    return await bus.store.read(execution_id, log_filter or LogFilter(), limit=100_000)


async def test_emit_numbers_lines_per_execution_and_persists_them(bus: LogBus) -> None:
    for i in range(5):
        bus.emit("exec_a", "info", f"a{i}", step_id="s1")
        bus.emit("exec_b", "warning", f"b{i}")
    await settle(bus, "exec_a", 5)
    await settle(bus, "exec_b", 5)
    await bus.flush()
    rows_a = await stored(bus, "exec_a")
    rows_b = await stored(bus, "exec_b")
    assert [(r.seq, r.message, r.step_id) for r in rows_a] == [(i + 1, f"a{i}", "s1") for i in range(5)]
    assert [(r.seq, r.message, r.rank) for r in rows_b] == [(i + 1, f"b{i}", 2) for i in range(5)]
    assert all(x.ts <= y.ts for x, y in itertools.pairwise(rows_a))


async def test_the_flusher_writes_in_the_background(bus: LogBus) -> None:
    for i in range(120):
        bus.emit("exec_f", "debug", f"line {i}")
    async with asyncio.timeout(5):
        while True:
            if await bus.store.max_seq("exec_f") == 120:
                break
            await asyncio.sleep(0.005)
    assert bus.memory_lines("exec_f", LogFilter()) == []


async def test_an_odd_level_becomes_info_instead_of_raising(bus: LogBus) -> None:
    bus.emit("exec_odd", "loud", "x")
    bus.emit("exec_odd", None, 42)  # type: ignore[arg-type]
    await settle(bus, "exec_odd", 2)
    await bus.flush()
    rows = await stored(bus, "exec_odd")
    assert [(r.rank, r.message) for r in rows] == [(1, "x"), (1, "42")]


async def test_seq_continues_after_a_restart(store: Store) -> None:
    first = LogBus(LogStore(store), FAST)
    await first.start()
    for i in range(7):
        first.emit("exec_r", "info", f"before {i}")
    await settle(first, "exec_r", 7)
    await first.stop()  # stop commits what is still in memory

    second = LogBus(LogStore(store), FAST)
    await second.start()
    second.emit("exec_r", "info", "after 0")
    second.emit("exec_r", "error", "after 1")
    await settle(second, "exec_r", 9)
    await second.stop()
    rows = await stored(second, "exec_r")
    assert [r.seq for r in rows] == list(range(1, 10))
    assert [r.message for r in rows[-2:]] == ["after 0", "after 1"]


async def test_a_new_execution_is_numbered_at_once_without_a_seq_lookup(bus: LogBus) -> None:
    subscription = bus.subscribe("exec_n", LogFilter())  # a stream opened before the first line
    bus.begin_new("exec_n")
    bus.emit("exec_n", "info", "queued")
    bus.emit("exec_n", "info", "started")
    # Published synchronously: no task had to read the stored maximum first.
    assert [(line.seq, line.message) for line in subscription.take(10)] == [(1, "queued"), (2, "started")]
    assert bus.is_open("exec_n")
    bus.unsubscribe(subscription)
    await bus.flush()
    assert [(r.seq, r.message) for r in await stored(bus, "exec_n")] == [(1, "queued"), (2, "started")]


async def test_begin_new_leaves_lines_that_already_wait_for_their_seq_alone(store: Store) -> None:
    first = LogBus(LogStore(store), FAST)
    await first.start()
    first.emit("exec_s", "info", "stored")
    await settle(first, "exec_s", 1)
    await first.stop()

    second = LogBus(LogStore(store), FAST)
    await second.start()
    second.emit("exec_s", "info", "waiting")  # starts the lookup of the stored maximum
    second.begin_new("exec_s")  # must not restart the numbering at 1
    second.emit("exec_s", "info", "after")
    await settle(second, "exec_s", 3)
    await second.stop()
    assert [(r.seq, r.message) for r in await stored(second, "exec_s")] == [
        (1, "stored"),
        (2, "waiting"),
        (3, "after"),
    ]


async def test_read_merges_store_and_memory_without_gap_or_duplicate(bus: LogBus) -> None:
    """Readers race the flusher: every page sequence still covers 1..N exactly once."""
    total = 400

    async def produce() -> None:
        for i in range(total):
            bus.emit("exec_m", "info", f"m{i}")
            if i % 7 == 0:
                await asyncio.sleep(0)

    producer = asyncio.create_task(produce())
    seen: list[int] = []
    async with asyncio.timeout(10):
        while len(seen) < total:
            page = await bus.read("exec_m", LogFilter(), after_seq=seen[-1] if seen else 0, limit=13)
            seen.extend(line.seq for line in page)
            await asyncio.sleep(0)
    await producer
    assert seen == list(range(1, total + 1))


async def test_read_applies_filters_and_limit(bus: LogBus) -> None:
    levels = ["debug", "info", "warning", "error"]
    for i in range(12):
        bus.emit("exec_q", levels[i % 4], f"q{i}", step_id="odd" if i % 2 else "even")
    await settle(bus, "exec_q", 12)
    half = 6
    await bus.flush()
    for i in range(12, 12 + half):
        bus.emit("exec_q", levels[i % 4], f"q{i}", step_id="odd" if i % 2 else "even")
    warn_odd = LogFilter.build(level="warning", step_id="odd")
    lines = await bus.read("exec_q", warn_odd, after_seq=0, limit=100)
    assert [line.message for line in lines] == ["q3", "q7", "q11", "q15"]  # error level on odd steps
    first_two = await bus.read("exec_q", LogFilter.build(level="error"), after_seq=0, limit=2)
    assert [line.seq for line in first_two] == [4, 8]


async def test_subscription_gets_live_lines_then_end_after_the_last(bus: LogBus) -> None:
    bus.emit("exec_s", "info", "before")
    await settle(bus, "exec_s", 1)
    subscription = bus.subscribe("exec_s", LogFilter())
    # "before" is in the snapshot while uncommitted, else the flusher (racing us under load) stored it.
    earlier = subscription.snapshot or await stored(bus, "exec_s")
    assert [line.message for line in earlier] == ["before"]
    bus.emit("exec_s", "info", "live 1")
    bus.emit("exec_s", "debug", "live 2")
    bus.close_execution("exec_s", "completed")
    assert await subscription.wait(1.0)
    assert [line.message for line in subscription.take(10)] == ["live 1", "live 2"]
    assert subscription.end_status == "completed"
    bus.unsubscribe(subscription)


async def test_close_waits_for_lines_still_waiting_for_their_seq(store: Store) -> None:
    """After a restart the first lines wait for the stored max seq; `end` must come after them."""
    bus = LogBus(LogStore(store), FAST)
    await bus.start()
    subscription = bus.subscribe("exec_w", LogFilter())
    bus.emit("exec_w", "info", "one")
    bus.emit("exec_w", "info", "two")
    bus.close_execution("exec_w", "failed")
    assert subscription.end_status is None  # not before the waiting lines are published
    async with asyncio.timeout(2):
        while subscription.end_status is None:
            await subscription.wait(0.1)
    assert [line.seq for line in subscription.take(10)] == [1, 2]
    assert subscription.end_status == "failed"
    bus.unsubscribe(subscription)
    await bus.stop()


async def test_a_subscriber_over_its_bound_turns_lagging_and_others_do_not_care(bus: LogBus) -> None:
    bus.emit("exec_l", "info", "warm up")
    await settle(bus, "exec_l", 1)
    slow = bus.subscribe("exec_l", LogFilter())
    fast = bus.subscribe("exec_l", LogFilter())
    for i in range(FAST.subscriber_buffer_lines + 5):
        bus.emit("exec_l", "info", f"l{i}")
        fast.take(100)
    # It keeps the oldest lines it could hold (they follow its cursor) and drops the rest.
    assert slow.lagging and slow.pending == FAST.subscriber_buffer_lines
    assert [line.message for line in slow.take(2)] == ["l0", "l1"]
    assert not fast.lagging
    slow.resume()  # the handler reads the rest from the store: buffering restarts empty
    assert slow.pending == 0 and not slow.lagging
    bus.emit("exec_l", "info", "after")
    assert [line.message for line in slow.take(5)] == ["after"]
    bus.unsubscribe(slow)
    bus.unsubscribe(fast)


async def test_filtered_subscription_only_counts_matching_lines(bus: LogBus) -> None:
    bus.emit("exec_fl", "info", "warm up")
    await settle(bus, "exec_fl", 1)
    errors_only = bus.subscribe("exec_fl", LogFilter.build(level="error"))
    for i in range(100):
        bus.emit("exec_fl", "info", f"noise {i}")
    bus.emit("exec_fl", "error", "boom")
    assert not errors_only.lagging
    assert [line.message for line in errors_only.take(10)] == ["boom"]
    bus.unsubscribe(errors_only)


async def test_wait_times_out_when_idle(bus: LogBus) -> None:
    subscription: Subscription = bus.subscribe("exec_idle", LogFilter())
    assert await subscription.wait(0.01) is False
    subscription.hang_up()
    assert await subscription.wait(0.01) is True
    bus.unsubscribe(subscription)


async def test_closed_executions_are_forgotten_once_flushed(bus: LogBus) -> None:
    bus.emit("exec_gone", "info", "x")
    await settle(bus, "exec_gone", 1)
    bus.close_execution("exec_gone", "completed")
    assert not bus.is_open("exec_gone")
    await bus.flush()
    assert "exec_gone" not in bus._channels
    bus.emit("exec_gone", "info", "late line")  # numbered after the stored ones
    await settle(bus, "exec_gone", 2)
    await bus.flush()
    assert [r.seq for r in await stored(bus, "exec_gone")] == [1, 2]


@settings(max_examples=500)
@given(st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False))
def test_format_timestamp_matches_datetime_isoformat(ts: float) -> None:
    expected = datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert format_timestamp(ts) == expected


@pytest.mark.parametrize(
    ("ts", "text"),
    [
        (0.0, "1970-01-01T00:00:00.000000Z"),
        (0.9999996, "1970-01-01T00:00:01.000000Z"),  # rounds into the next second
        (1714564800.25, "2024-05-01T12:00:00.250000Z"),
    ],
)
def test_format_timestamp_table(ts: float, text: str) -> None:
    assert format_timestamp(ts) == text
