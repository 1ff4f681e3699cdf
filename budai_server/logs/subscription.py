"""One live reader of one execution's log: the bounded buffer between the log bus and a stream."""

from __future__ import annotations

import asyncio
from collections import deque

from budai_async.logs.cursor import LogFilter
from budai_server.logs.store import LogLine

__all__ = ["Subscription"]


class Subscription:
    """One live reader of one execution: a bounded buffer of lines plus the terminal status.

    The bus calls `offer` and `finish` synchronously; the stream handler awaits `wait` and drains
    with `take`. Past `limit` queued lines the subscription turns `lagging`: it keeps the `limit`
    oldest lines (they follow the stream's cursor without a gap, so the handler still sends them)
    and takes no more (memory stays bounded). Once it has sent them, the handler reads the lines
    that did not fit from the store and calls `resume`, which restarts buffering.
    """

    def __init__(
        self,
        execution_id: str,
        log_filter: LogFilter,
        limit: int,
        snapshot: list[LogLine],
        live_after: int | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.filter = log_filter
        self.limit = limit
        # Lines held in memory (published, not yet committed) when the subscription started.
        self.snapshot = snapshot
        # The seq of the last line published before it started (None: not known yet, after a
        # restart): every later line reaches the buffer, so a backlog need not read past it.
        self.live_after = live_after
        self.end_status: str | None = None
        self._accept_all = log_filter.is_open  # the common case: no per-line filter call
        self.lagging = False
        self.peer_gone = False
        self.shutdown = False
        self._lines: deque[LogLine] = deque()
        self._ready = asyncio.Event()

    def offer(self, line: LogLine) -> None:
        """Queue a live line if it passes the filter; overflow marks the subscription lagging.

        A lagging subscription keeps what it holds and drops this line and every later one: the
        store has them, and the handler reads them back after sending the held ones.
        """
        if self.lagging or not (self._accept_all or self.filter.accepts(line.rank, line.step_id, line.ts)):
            return
        lines = self._lines
        if len(lines) >= self.limit:
            self.lagging = True
            self._ready.set()
            return
        lines.append(line)
        if len(lines) == 1:  # the handler only waits on an empty buffer
            self._ready.set()

    def resume(self) -> None:
        """Buffer live lines again, from now on, before the handler reads the store from its cursor.

        Whatever the buffer still holds is dropped: the read that follows covers it, and a line
        published from now on is either in that read or in the buffer.
        """
        self.lagging = False
        self._lines.clear()

    def finish(self, status: str) -> None:
        """Mark the execution terminal; the handler sends `end` once the buffer is empty."""
        if self.end_status is None:
            self.end_status = status
            self._ready.set()

    def hang_up(self, *, shutdown: bool = False) -> None:
        """The peer went away, or (`shutdown`) the server is stopping: wake the handler to return."""
        self.peer_gone = True
        self.shutdown = self.shutdown or shutdown
        self._ready.set()

    def take(self, most: int) -> list[LogLine]:
        """Remove and return up to `most` queued lines, oldest first."""
        lines = self._lines
        count = min(most, len(lines))
        taken = [lines.popleft() for _ in range(count)]
        if not lines:
            self._ready.clear()
        return taken

    @property
    def pending(self) -> int:
        """Lines queued and not yet taken."""
        return len(self._lines)

    async def wait(self, timeout: float) -> bool:  # noqa: ASYNC109 - a timeout means "heartbeat due"
        """Wait until something happened (lines, end, lag, hang-up); False on timeout."""
        if self._lines or self.end_status is not None or self.lagging or self.peer_gone:
            return True
        self._ready.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            return False
        return True
