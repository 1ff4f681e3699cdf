"""The log bus: the engine's `LogSink`, live fan-out to stream subscribers, batched persistence.

`emit` is synchronous and never waits: it numbers the line (per-execution seq 1, 2, 3 …), hands it
to every subscriber's bounded buffer and queues it for the background flusher, which writes batches
as a few multi-row INSERTs. A line stays in memory until it is committed, so a reader that takes a
memory snapshot first and then reads SQLite sees every line exactly once (see `LogBus.read`).

After a restart the next seq of an execution is read lazily from SQLite on its first `emit`; lines
emitted meanwhile wait (in order) and are numbered once the stored maximum is known.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import attrs
from aiohttp import web

from budai_async.logs.cursor import LEVELS, LogFilter, level_rank
from budai_async.models import Execution
from budai_server.appkeys import CONFIG, LOGBUS, STORE
from budai_server.logs.budget import LineBudget, Verdict, clip
from budai_server.logs.store import LogLine, LogStore, new_line
from budai_server.logs.subscription import Subscription

__all__ = ["LOG_SETTINGS", "LogBus", "LogSettings", "Subscription", "logbus_ctx"]

log = logging.getLogger(__name__)

_INFO_RANK = level_rank("info")
_WARNING_RANK = level_rank("warning")
_RANKS = {name: rank for rank, name in enumerate(LEVELS)}  # the fast path of `emit`
_ADMIT, _DROP = Verdict.ADMIT, Verdict.DROP  # module constants: an Enum member lookup costs ~80 ns
_now = time.time


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


@attrs.frozen(kw_only=True)
class LogSettings:
    """Tuning of the log bus and the stream route; tests shrink the numbers."""

    flush_interval_seconds: float = attrs.field(default=0.05, validator=_positive)
    # Flush before the interval is up once this many lines wait.
    flush_batch_lines: int = attrs.field(default=5000, validator=_positive)
    # Lines a stream subscriber may have queued; past it the stream reads the rest back from the
    # store. One full burst of the default rate limit (`max_log_lines_per_second`, bursts as
    # large), so a follower slower than such a burst never pays for a read-back. Queued lines are
    # shared with the bus and between subscribers: a pointer per line per subscriber, plus the
    # lines themselves (~250 bytes each) kept alive until the slowest subscriber sent them.
    subscriber_buffer_lines: int = attrs.field(default=200_000, validator=_positive)
    # Idle streams get a heartbeat frame (and a terminal-status check) this often.
    heartbeat_seconds: float = attrs.field(default=5.0, validator=_positive)
    # Most lines in one websocket frame.
    frame_max_lines: int = attrs.field(default=1000, validator=_positive)
    # Rows read from SQLite per query while a stream catches up on its backlog.
    backlog_page_lines: int = attrs.field(default=5000, validator=_positive)
    # permessage-deflate when the client offers it (log text shrinks 5-10x; costs server CPU).
    compress: bool = True
    # A frame a peer does not take within this long means it stopped reading: close 4008.
    send_timeout_seconds: float = attrs.field(default=30.0, validator=_positive)
    # Honour the stream's `drop_every=N` query parameter (reconnect tests only).
    test_hooks: bool = False
    # Per execution: longest line kept whole, lines per second (bursts as large), lines in all.
    # None: no limit (the bus on its own); the server fills them from its config.
    max_line_chars: int | None = None
    max_lines_per_second: float | None = None
    max_lines_per_execution: int | None = None


@attrs.define
class _Channel:
    """Per-execution state: the next seq, lines waiting for it, lines not yet committed, readers."""

    next_seq: int | None = None  # None until the stored maximum has been read
    last_ts: float = 0.0
    waiting: list[tuple[float, int, str | None, str]] = attrs.field(factory=list)
    unflushed: deque[LogLine] = attrs.field(factory=deque)
    subscribers: set[Subscription] = attrs.field(factory=set)
    closed_status: str | None = None
    loader: asyncio.Task[None] | None = None
    budget: LineBudget | None = None

    @property
    def idle(self) -> bool:
        """Nothing in flight and nobody listening: the channel can be forgotten."""
        return not (self.subscribers or self.unflushed or self.waiting or self.loader)


class LogBus:
    """Implements the engine's `LogSink`; start it before the scheduler and stop it after."""

    def __init__(self, store: LogStore, settings: LogSettings | None = None) -> None:
        self.store = store
        self.settings = settings or LogSettings()
        self._limited = any(
            limit is not None
            for limit in (
                self.settings.max_line_chars,
                self.settings.max_lines_per_second,
                self.settings.max_lines_per_execution,
            )
        )
        self._max_line_chars = self.settings.max_line_chars
        self._flush_batch_lines = self.settings.flush_batch_lines
        self._channels: dict[str, _Channel] = {}
        self._to_flush: list[LogLine] = []
        self._wakeup = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Create the table and start the background flusher."""
        await self.store.create_schema()
        self._flusher = asyncio.create_task(self._flush_loop(), name="logbus-flusher")

    async def stop(self) -> None:
        """Number and commit every line still in memory, then stop the flusher and wake readers."""
        self._stopping = True
        for channel in list(self._channels.values()):
            if channel.loader is not None:
                with contextlib.suppress(Exception):
                    await channel.loader
        self._wakeup.set()
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher
            self._flusher = None
        try:
            await self.flush()
        except Exception:
            log.exception("could not write the last %d log lines at shutdown", len(self._to_flush))
        for channel in self._channels.values():
            for subscription in channel.subscribers:
                subscription.hang_up(shutdown=True)

    # ------------------------------------------------------------------ LogSink

    def emit(self, execution_id: str, level: str, message: str, step_id: str | None = None) -> None:
        """Record one line; never blocks and never raises for an odd level (it becomes info)."""
        try:
            rank = _RANKS[level]
        except (KeyError, TypeError):
            try:
                rank = level_rank(level)
            except (ValueError, AttributeError):
                rank = _INFO_RANK
        channel = self._channels.get(execution_id)
        if channel is None:
            channel = self._channels[execution_id] = _Channel()
        # Timestamps never go backwards inside an execution, so `since` cuts the seq order cleanly.
        ts = _now()
        if ts < channel.last_ts:
            ts = channel.last_ts
        text = message if message.__class__ is str else str(message)
        if self._limited:
            budget = channel.budget
            if budget is None:
                budget = channel.budget = LineBudget(
                    self.settings.max_lines_per_second or math.inf,
                    self.settings.max_lines_per_execution or sys.maxsize,
                )
            verdict = budget.admit(ts)
            if verdict is not _ADMIT:
                if verdict is _DROP:
                    return
                text, rank, step_id = budget.notice(verdict), _WARNING_RANK, None
            elif self._max_line_chars is not None and len(text) > self._max_line_chars:
                text = clip(text, self._max_line_chars)
        channel.last_ts = ts
        if channel.next_seq is None:
            channel.waiting.append((ts, rank, step_id, text))
            if channel.loader is None:
                channel.loader = asyncio.get_running_loop().create_task(
                    self._load_seq(execution_id, channel), name=f"logbus-seq-{execution_id}"
                )
            return
        self._publish(execution_id, channel, ts, rank, step_id, text)

    def begin_new(self, execution_id: str) -> None:
        """Number a just-created execution's lines from 1 without asking SQLite for its last seq.

        Only for an execution this process has just stored under a new id (the scheduler calls it
        when it admits one): no line of it can be stored yet, so the lookup `emit` would otherwise
        start (one task and one query per execution) is skipped. Lines already waiting for a
        lookup keep it.
        """
        channel = self._channels.get(execution_id)
        if channel is None:
            self._channels[execution_id] = _Channel(next_seq=1)
        elif channel.next_seq is None and channel.loader is None and not channel.waiting:
            channel.next_seq = 1

    def _publish(
        self, execution_id: str, channel: _Channel, ts: float, rank: int, step_id: str | None, text: str
    ) -> None:
        seq = channel.next_seq
        assert seq is not None
        line = new_line(LogLine, (execution_id, seq, ts, rank, step_id, text))
        channel.next_seq = seq + 1
        channel.unflushed.append(line)
        to_flush = self._to_flush
        to_flush.append(line)
        if channel.subscribers:
            for subscription in channel.subscribers:
                subscription.offer(line)
        if len(to_flush) >= self._flush_batch_lines:
            self._wakeup.set()

    async def _load_seq(self, execution_id: str, channel: _Channel) -> None:
        """Read the stored maximum seq, then number and publish the lines that waited for it."""
        delay = 0.01
        while True:
            try:
                stored = await self.store.max_seq(execution_id)
                break
            except Exception:
                if self._stopping:
                    log.exception(
                        "dropping %d log lines of %s: cannot read seq", len(channel.waiting), execution_id
                    )
                    channel.waiting.clear()
                    channel.loader = None
                    return
                log.exception("reading the last log seq of %s failed; retrying", execution_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        channel.next_seq = stored + 1
        waiting, channel.waiting = channel.waiting, []
        for ts, rank, step_id, text in waiting:
            self._publish(execution_id, channel, ts, rank, step_id, text)
        channel.loader = None
        if channel.closed_status is not None:
            for subscription in channel.subscribers:
                subscription.finish(channel.closed_status)
            self._forget_if_idle(execution_id)

    # ------------------------------------------------------------------ terminal state

    def close_execution(self, execution_id: str, status: str) -> None:
        """Say the execution ended with `status` after its last line; streams then send `end`.

        Lines emitted before this call reach every subscriber first. Lines still waiting for
        their seq are published before the subscribers are finished.
        """
        channel = self._channels.get(execution_id)
        if channel is None:
            return
        channel.closed_status = status
        if channel.loader is None:
            for subscription in channel.subscribers:
                subscription.finish(status)
            self._forget_if_idle(execution_id)

    async def on_terminal(self, execution: Execution) -> None:
        """Scheduler terminal listener: the final line is out, so close the execution's streams."""
        self.close_execution(execution.id, str(execution.status))

    def is_open(self, execution_id: str) -> bool:
        """True while lines of this execution were emitted here and `close_execution` has not come.

        Streams then wait for `close_execution` rather than trusting a terminal status in the
        store, which is committed just before the execution's last line is emitted.
        """
        channel = self._channels.get(execution_id)
        if channel is None or channel.closed_status is not None:
            return False
        return channel.next_seq is not None or bool(channel.waiting)

    def _forget_if_idle(self, execution_id: str) -> None:
        channel = self._channels.get(execution_id)
        if (
            channel is not None
            and channel.idle
            and (channel.closed_status is not None or channel.next_seq is None)
        ):
            del self._channels[execution_id]

    # ------------------------------------------------------------------ readers

    def subscribe(self, execution_id: str, log_filter: LogFilter) -> Subscription:
        """Start receiving live lines; the returned snapshot holds the uncommitted lines of now.

        Read the store *after* this call: anything committed before it is in the store, anything
        uncommitted is in the snapshot, anything later arrives live.
        """
        channel = self._channels.get(execution_id)
        if channel is None:
            channel = self._channels[execution_id] = _Channel()
        snapshot = self.memory_lines(execution_id, log_filter)
        live_after = None if channel.next_seq is None else channel.next_seq - 1
        subscription = Subscription(
            execution_id, log_filter, self.settings.subscriber_buffer_lines, snapshot, live_after
        )
        channel.subscribers.add(subscription)
        if channel.closed_status is not None and channel.loader is None:
            subscription.finish(channel.closed_status)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop feeding a subscription (idempotent)."""
        channel = self._channels.get(subscription.execution_id)
        if channel is not None:
            channel.subscribers.discard(subscription)
            self._forget_if_idle(subscription.execution_id)

    def memory_lines(self, execution_id: str, log_filter: LogFilter) -> list[LogLine]:
        """Published lines not yet committed, filtered, oldest first."""
        channel = self._channels.get(execution_id)
        if channel is None:
            return []
        if log_filter.is_open:  # the common case: no per-line filter call
            return list(channel.unflushed)
        return [line for line in channel.unflushed if log_filter.accepts(line.rank, line.step_id, line.ts)]

    async def read(
        self, execution_id: str, log_filter: LogFilter, *, after_seq: int, limit: int
    ) -> list[LogLine]:
        """Up to `limit` lines after `after_seq`, from SQLite and memory, each exactly once, in order.

        The memory snapshot is taken before the query: a line committed in between is in the
        query's result, a line still in memory is in the snapshot, so nothing falls between them.
        """
        snapshot = self.memory_lines(execution_id, log_filter)
        rows = await self.store.read(execution_id, log_filter, after_seq=after_seq, limit=limit)
        return merge_lines(rows, snapshot, after_seq=after_seq, limit=limit)

    # ------------------------------------------------------------------ persistence

    async def flush(self) -> None:
        """Commit every published line now (the flusher does this on its own every interval)."""
        async with self._flush_lock:
            batch, self._to_flush = self._to_flush, []
            if not batch:
                return
            try:
                await self.store.write(batch)
            except BaseException:
                self._to_flush[:0] = batch
                raise
            for line in batch:
                channel = self._channels[line.execution_id]
                channel.unflushed.popleft()
            for execution_id in {line.execution_id for line in batch}:
                self._forget_if_idle(execution_id)

    async def _flush_loop(self) -> None:
        interval = self.settings.flush_interval_seconds
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wakeup.wait()
            self._wakeup.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing log lines failed; keeping them for the next flush")
                await asyncio.sleep(interval)


def merge_lines(rows: list[LogLine], snapshot: list[LogLine], *, after_seq: int, limit: int) -> list[LogLine]:
    """Stored rows followed by snapshot lines past the last stored seq, capped at `limit`."""
    if len(rows) >= limit:
        return rows[:limit]
    cursor = rows[-1].seq if rows else after_seq
    merged = list(rows)
    for line in snapshot:
        if line.seq > cursor:
            merged.append(line)
            cursor = line.seq
            if len(merged) >= limit:
                break
    return merged


LOG_SETTINGS: web.AppKey[LogSettings] = web.AppKey("log_settings", LogSettings)
"""Optional: set before the app starts to tune the bus (tests shrink buffers and heartbeats)."""


async def logbus_ctx(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: start the bus on the open store, stop it (flushing) at shutdown.

    Register it after the store's context and before the scheduler's, so the bus outlives the
    engine on the way down and every last line is committed before the store closes.
    """
    settings = app.get(LOG_SETTINGS)  # set by tests: used as it is
    config = app.get(CONFIG)
    if settings is None and config is not None:
        settings = LogSettings(
            max_line_chars=config.max_log_line_chars,
            max_lines_per_second=config.max_log_lines_per_second,
            max_lines_per_execution=config.max_log_lines_per_execution,
        )
    bus = LogBus(LogStore(app[STORE]), settings)
    await bus.start()
    app[LOGBUS] = bus
    try:
        yield
    finally:
        await bus.stop()
