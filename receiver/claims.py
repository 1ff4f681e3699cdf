"""Group commit of claims: every callback that arrives in one event-loop tick is stored as one batch.

A request adds its claim to the open batch and awaits the batch's single result; the first claim of
a tick schedules the flush for the end of the tick, and the flush is one `Store.claim_many` call
(one multi-row INSERT for SQLite, one call of the claim script for Redis). The flush task, not the
requests, hands new events to the dispatcher, so a request cancelled while waiting (client gone,
server stopping) never strands a stored event. Each acknowledgement still follows the commit of its own claim.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from receiver.dispatch import Dispatcher, Job
from receiver.events import CallbackEvent
from receiver.stores.base import Claim, Store, StoreError

__all__ = ["BatchResult", "ClaimBatcher"]

log = logging.getLogger("receiver.claims")
#: A request's ``traceparent``/``tracestate`` when OpenTelemetry is on (tracing.py), else None.
Trace = Mapping[str, str] | None


class BatchResult(asyncio.Future[list[bool]]):
    """The one result every request of a batch awaits; a waiter's cancellation does not cancel it.

    Refusing `cancel` is what `asyncio.shield` gives, without a second future per waiter: a cancelled
    request's task sees its CancelledError once the batch has committed, and the others never see it.
    """

    def cancel(self, msg: Any = None) -> bool:
        return False


class ClaimBatcher:
    """Collects the claims of one loop tick and stores them together; see the module docstring."""

    def __init__(self, store: Store, dispatcher: Dispatcher) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self._claims: list[Claim] = []
        self._events: list[tuple[CallbackEvent, Trace]] = []
        self._result: BatchResult | None = None
        self._flushes: set[asyncio.Task[None]] = set()

    def add(
        self, event_id: str, body: bytes, event: CallbackEvent, received_at: float, trace: Trace = None
    ) -> tuple[BatchResult, int]:
        """Queue a claim (its dispatch slot already reserved); await the result, read your index.

        The result is one bool per claim (True: new, stored and queued; False: a duplicate), or
        StoreError for the whole batch.
        """
        result = self._result
        if result is None:
            loop = asyncio.get_running_loop()
            result = self._result = BatchResult(loop=loop)
            loop.call_soon(self._flush)
        self._claims.append((event_id, body, received_at))
        self._events.append((event, trace))
        return result, len(self._claims) - 1

    def _flush(self) -> None:
        claims, events, result = self._claims, self._events, self._result
        self._claims, self._events, self._result = [], [], None
        if result is None:
            return
        task = asyncio.get_running_loop().create_task(self._commit(claims, events, result))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _commit(
        self, claims: list[Claim], events: list[tuple[CallbackEvent, Trace]], result: BatchResult
    ) -> None:
        try:
            answers = await self.store.claim_many(claims)
        except BaseException as exc:
            for _ in claims:
                self.dispatcher.cancel_reservation()
            error = exc if isinstance(exc, StoreError) else StoreError(f"claim failed: {exc!r}")
            result.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            return
        for (event_id, body, _), (event, trace), new in zip(claims, events, answers, strict=True):
            if new:
                self.dispatcher.submit(Job(id=event_id, body=body, event=event, trace=trace))
            else:
                self.dispatcher.cancel_reservation()
        result.set_result(answers)

    async def drain(self) -> None:
        """Wait for batches under way (shutdown: their events must reach the dispatcher first)."""
        if self._result is not None:
            self._flush()
        while self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)
