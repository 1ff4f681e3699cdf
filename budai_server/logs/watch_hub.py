"""Fan terminal executions out to status subscriptions (websocket watchers and long-poll waiters).

One scheduler terminal listener feeds every open `Watch`; a watch selects executions by id and/or
by pipeline and tags, and hands each one over at most once. Subscribing registers the watch BEFORE
the caller reads the already-terminal executions from the store, and both paths go through the same
`offer` with its once-only check, so an execution ending between the read and the registration is
neither lost nor sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from budai_async.models import Execution

__all__ = ["Watch", "WatchHub", "WatchOverflow"]


class WatchOverflow(Exception):
    """A watch's buffer is full: its reader is too slow and is disconnected."""


class Watch:
    """One subscription: ids still awaited, optional pipeline/tags filter, a queue of ended executions.

    `ids` shrinks as executions are delivered; a filter watch (pipeline and/or tags) keeps a set of
    delivered ids for the once-only rule.
    """

    def __init__(
        self,
        *,
        pipeline_id: str | None = None,
        tags: Iterable[str] = (),
        max_buffer: int = 100_000,
    ) -> None:
        self.ids: set[str] = set()
        self.pipeline_id = pipeline_id
        self.tags = frozenset(tags)
        self.max_buffer = max_buffer
        self.delivered: set[str] = set()
        self.queue: asyncio.Queue[Execution] = asyncio.Queue()
        self.overflowed = False

    @property
    def filtered(self) -> bool:
        """True when the watch also selects by pipeline or tags (not only by id)."""
        return self.pipeline_id is not None or bool(self.tags)

    def add_ids(self, ids: Iterable[str]) -> None:
        self.ids.update(i for i in ids if i not in self.delivered)

    def discard_ids(self, ids: Iterable[str]) -> None:
        self.ids.difference_update(ids)

    def matches(self, execution: Execution) -> bool:
        if execution.id in self.ids:
            return True
        if not self.filtered:
            return False
        if self.pipeline_id is not None and execution.pipeline_id != self.pipeline_id:
            return False
        return self.tags.issubset(execution.tags)

    def offer(self, execution: Execution) -> bool:
        """Queue a terminal execution if it matches and was not handed over yet; True when queued."""
        if not execution.is_terminal or execution.id in self.delivered or not self.matches(execution):
            return False
        if self.queue.qsize() >= self.max_buffer:
            self.overflowed = True
            return False
        self.delivered.add(execution.id)
        self.ids.discard(execution.id)
        self.queue.put_nowait(execution)
        return True

    def drain(self, limit: int) -> list[Execution]:
        """Up to `limit` queued executions without waiting."""
        out: list[Execution] = []
        while len(out) < limit and not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out


class WatchHub:
    """The set of open watches; `on_terminal` is registered as the scheduler's terminal listener."""

    def __init__(self) -> None:
        self._watches: set[Watch] = set()

    def __len__(self) -> int:
        return len(self._watches)

    def open(self, watch: Watch) -> Watch:
        self._watches.add(watch)
        return watch

    def close(self, watch: Watch) -> None:
        self._watches.discard(watch)

    async def on_terminal(self, execution: Execution) -> None:
        for watch in list(self._watches):
            watch.offer(execution)
