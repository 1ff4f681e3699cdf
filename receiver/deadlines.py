"""Handler time limits kept with one timer for all running calls, not one per call.

`asyncio.timeout` arms and cancels a loop timer (a heap entry) around every handler call, which the
dispatcher paid for each event although almost no handler ever runs into its limit. Here a call
only records its deadline; one timer, armed for the oldest running call's deadline, cancels the calls
that are due when it fires and re-arms itself for the next one. The limit is the same for every call,
so deadlines are in start order and the oldest is the first entry. A call cancelled this way raises
TimeoutError, as under `asyncio.timeout`; any other cancellation (shutdown) passes through unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

__all__ = ["Deadlines"]


class Deadlines:
    """Runs awaitables under a shared time limit of `seconds` each (None: no limit)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._running: dict[asyncio.Task[Any], float] = {}  # task -> deadline, oldest first
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    async def run(self, call: Awaitable[Any]) -> None:
        """Await `call`; raise TimeoutError if it is still running `seconds` after it started.

        One call at a time per task (a handler call is never nested in another of the same task).
        """
        if self.seconds is None:
            await call
            return
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always awaited inside a task
            raise RuntimeError("Deadlines.run must run inside a task")
        loop = task.get_loop()
        deadline = loop.time() + self.seconds
        running = self._running
        running[task] = deadline
        cancelling = task.cancelling()
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._expire, loop)
        try:
            await call
        except asyncio.CancelledError:
            if task in self._expired:
                self._expired.discard(task)
                if task.uncancel() <= cancelling:
                    raise TimeoutError from None
            raise
        finally:
            del running[task]
            if task in self._expired:  # cancelled when due, but it returned or raised something else
                self._expired.discard(task)
                task.uncancel()

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        for task, deadline in self._running.items():
            if deadline > now:
                self._timer = loop.call_at(deadline, self._expire, loop)
                return
            if task not in self._expired:
                self._expired.add(task)
                task.cancel()

    def close(self) -> None:
        """Disarm the timer (the dispatcher is stopping; its workers are cancelled anyway)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
