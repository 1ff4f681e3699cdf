"""The store interface: what the receiver needs from durable storage, and nothing more.

An event moves ``pending -> done`` or ``pending -> dead -> (replay) pending``. A pending event has an
owner, the store instance (one per process start) that is dispatching it; `acquire` hands out pending
events nobody is working on (left by a crashed or stopped process, or replayed), so crash recovery
and replay are one mechanism. Handlers that succeeded are recorded per event so they are not re-run.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import Self

import attrs

__all__ = [
    "DEFAULT_RETENTION_SECONDS",
    "Claim",
    "DeadLetter",
    "Finish",
    "Store",
    "StoreError",
    "StoredEvent",
]

#: One claim: (event id, body, received_at).
Claim = tuple[str, bytes, float]
#: One finished event: (event id, failures by handler name (empty: done), finished_at).
Finish = tuple[str, Mapping[str, str], float]

#: How long a finished event's id is remembered for deduplication. It must outlast the sender's whole
#: retry schedule (about 28 h by default), so a late retry is still recognised as a duplicate.
DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600

EVENT_STATES = ("pending", "done", "dead")


class StoreError(Exception):
    """The store could not be reached or refused a write; the receiver answers 503 and retries later."""


@attrs.frozen(kw_only=True)
class StoredEvent:
    """A pending event handed to this process for dispatch."""

    id: str
    body: bytes
    received_at: float
    done_handlers: frozenset[str] = frozenset()


@attrs.frozen(kw_only=True)
class DeadLetter:
    """An event whose handlers failed after every retry; `failures` maps handler name to last error."""

    id: str
    body: bytes
    received_at: float
    failed_at: float
    failures: Mapping[str, str]
    done_handlers: frozenset[str] = frozenset()


class Store(abc.ABC):
    """Durable event storage shared by the HTTP handler (claim) and the dispatcher (everything else).

    Implementations must make `claim` atomic: of any number of concurrent claims of one id, across
    processes if the store is shared, exactly one returns True.
    """

    owner: str = ""
    #: Seconds a hold on an event lasts unless renewed; None for stores whose holds do not expire.
    lease_seconds: float | None = None
    #: Seconds a finished event's id is remembered (the deduplication window).
    retention_seconds: float = DEFAULT_RETENTION_SECONDS

    async def open(self) -> None:
        """Connect and prepare; picks a fresh `owner` token, so leases of an earlier run are foreign."""
        self.owner = uuid.uuid4().hex

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush pending writes and disconnect."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @abc.abstractmethod
    async def claim(self, event_id: str, body: bytes, *, received_at: float) -> bool:
        """Store a new event owned by this process; False if the id was seen before (a duplicate)."""

    async def claim_many(self, claims: Sequence[Claim]) -> list[bool]:
        """Claim several events at once (the receiver's group commit); one answer per claim, in order.

        Of two claims of one id in the same call the first decides. Stores override this to write
        the whole batch in one round trip; this default claims them one by one.
        """
        return [await self.claim(event_id, body, received_at=at) for event_id, body, at in claims]

    @abc.abstractmethod
    async def acquire(self, *, limit: int) -> list[StoredEvent]:
        """Take up to `limit` pending events that no live process is dispatching."""

    async def renew(self, event_ids: Collection[str]) -> None:  # noqa: B027 - optional hook
        """Extend this process's hold on `event_ids` (stores with time-limited leases override this)."""

    @abc.abstractmethod
    async def mark_handler_done(self, event_id: str, handler: str) -> None:
        """Record that `handler` succeeded for `event_id`, so it is not run again after a crash."""

    @abc.abstractmethod
    async def finish(self, event_id: str, *, failures: Mapping[str, str], at: float) -> None:
        """Close an event: ``done`` when `failures` is empty, otherwise dead-lettered with them."""

    async def finish_many(self, finished: Sequence[Finish]) -> None:
        """Close several events at once (the dispatcher's finishes of one loop tick).

        Stores override this to write them in one round trip; this default finishes them one by one.
        """
        for event_id, failures, at in finished:
            await self.finish(event_id, failures=failures, at=at)

    @abc.abstractmethod
    async def release(self, event_ids: Collection[str]) -> None:
        """Give back events this process holds but will not finish, for another (or a later) process."""

    @abc.abstractmethod
    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """List dead-lettered events, oldest failure first."""

    @abc.abstractmethod
    async def replay(self, event_id: str) -> bool:
        """Return a dead-lettered event to pending (its succeeded handlers stay done); False if not dead."""

    @abc.abstractmethod
    async def state(self, event_id: str) -> str | None:
        """Return ``pending``, ``done`` or ``dead``, or None for an unknown (or expired) id."""

    async def purge(self, *, older_than: float) -> int:
        """Forget finished events received before `older_than` (epoch seconds); returns how many."""
        return 0
