"""Background dispatch: bounded workers run the handlers of stored events, with per-handler retries.

The HTTP handler reserves a queue slot before storing, so "queue full" is answered with 503 before
anything is written; once stored and acknowledged, an event is submitted here. A poller takes
pending events from the store (left by a crashed run, a dead replica or a replay), renews leases on
stores that have them, and purges old finished events. Workers never drop an event: it ends done,
dead-lettered, or released back to the store.

A worker does not wait for its event's finish to be written: the finishes of one loop tick are
written together (`Store.finish_many`) and the worker takes the next event meanwhile; the event
stays owned and in flight, and its queue slot counts as unfinished, until that write is done.
Handler time limits share one timer (`receiver.deadlines`) instead of arming one per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping

import attrs

from receiver.deadlines import Deadlines
from receiver.events import CallbackEvent, MalformedEvent, parse_event
from receiver.handlers import HandlerFailure, Handlers, Registration
from receiver.metrics import Metrics
from receiver.policy import retry_delay, should_retry
from receiver.stores.base import Finish, Store, StoreError
from receiver.tracing import handling

__all__ = ["DispatchSettings", "Dispatcher", "Job"]

log = logging.getLogger("receiver.dispatch")

#: The failure key recorded when a stored body no longer parses (it passed validation when stored).
PARSE_FAILURE = "<parse>"
#: Finishes collected in one tick before a worker yields (see `Dispatcher._work`).
_FINISH_BATCH = 64


@attrs.frozen(kw_only=True)
class Job:
    """An event this process holds; `event` is already parsed when it came from a fresh claim."""

    id: str
    body: bytes
    event: CallbackEvent | None = None
    done: frozenset[str] = frozenset()
    #: ``traceparent``/``tracestate`` of the request, when OpenTelemetry is on (tracing.py).
    trace: Mapping[str, str] | None = None


@attrs.frozen(kw_only=True)
class DispatchSettings:
    """Knobs of the dispatcher; `Receiver` fills them from its arguments."""

    workers: int = 16
    queue_limit: int = 1024
    handler_retries: int = 5
    retry_base_delay: float = 1.0
    retry_max_delay: float = 300.0
    handler_timeout: float | None = 300.0
    poll_interval: float = 1.0
    purge_interval: float = 3600.0
    retention_seconds: float = 7 * 24 * 3600.0


class Dispatcher:
    """Runs handlers for stored events with bounded concurrency; see the module docstring."""

    def __init__(
        self,
        store: Store,
        handlers: Handlers,
        metrics: Metrics,
        settings: DispatchSettings,
        *,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.metrics = metrics
        self.settings = settings
        self._jitter = jitter
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._reserved = 0
        self._owned: set[str] = set()
        self._orphans: set[str] = set()
        self._in_flight: dict[str, Job] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._poller: asyncio.Task[None] | None = None
        self._deadlines = Deadlines(settings.handler_timeout)
        self._finishing: list[tuple[Job, dict[str, str], float]] = []
        self._finishes: set[asyncio.Task[None]] = set()

    @property
    def depth(self) -> int:
        """Events waiting for a worker."""
        return self._queue.qsize()

    @property
    def in_flight(self) -> int:
        """Events whose handlers are running."""
        return len(self._in_flight)

    @property
    def idle(self) -> bool:
        """True when nothing is queued, running or reserved."""
        return not self._owned and not self._reserved and self._queue.empty()

    # -- admission (called by the HTTP handler) ---------------------------------------------------

    def try_reserve(self) -> bool:
        """Reserve a queue slot for a callback about to be stored; False when the queue is full."""
        if self._queue.qsize() + self._reserved >= self.settings.queue_limit:
            return False
        self._reserved += 1
        return True

    def cancel_reservation(self) -> None:
        """Give back a slot whose callback turned out to be a duplicate or failed to store."""
        self._reserved -= 1

    def submit(self, job: Job) -> None:
        """Queue a freshly stored event, using the slot reserved for it."""
        self._reserved -= 1
        self._enqueue(job)

    def _enqueue(self, job: Job) -> None:
        self._owned.add(job.id)
        self._queue.put_nowait(job)

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the workers, queue the pending events found in the store, then start the poller."""
        self._workers = [
            asyncio.create_task(self._work(), name=f"receiver-worker-{n}")
            for n in range(self.settings.workers)
        ]
        try:
            await self._refill()
        except BaseException:
            await self._cancel_workers()
            raise
        self._poller = asyncio.create_task(self._poll_loop(), name="receiver-poller")

    async def stop(self, grace: float) -> None:
        """Finish queued and running events for up to `grace` seconds, then release the rest to the store.

        Order: stop taking events from the store; let workers drain the queue; cancel workers still
        busy at the deadline (their handlers are not marked done, so they run again later); release
        every event this process still holds so another replica, or the next start, picks it up.
        """
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        try:
            await asyncio.wait_for(self._queue.join(), grace)
        except TimeoutError:
            log.warning(
                "shutdown: %d events not finished after %.1fs; releasing them", len(self._owned), grace
            )
        await self._cancel_workers()
        held = sorted(self._owned)
        if held:
            try:
                await self.store.release(held)
            except StoreError:
                log.exception(
                    "shutdown: could not release %d events; they are recovered on restart", len(held)
                )
        self._owned.clear()
        self._orphans.clear()

    async def _cancel_workers(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        self._deadlines.close()
        # Finishes not written yet (only after the grace ran out): the events stay held and are
        # released, as when a worker was cancelled while writing one.
        unwritten, self._finishing = self._finishing, []
        for job, _, _ in unwritten:
            self._in_flight.pop(job.id, None)
            self._queue.task_done()
        await asyncio.sleep(0)  # a write task created this tick starts, so cancelling it runs its cleanup
        for finish in self._finishes:
            finish.cancel()
        await asyncio.gather(*self._finishes, return_exceptions=True)
        while not self._queue.empty():  # keep the queue's unfinished-task count honest
            self._queue.get_nowait()
            self._queue.task_done()

    # -- the poller ------------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        lease = self.store.lease_seconds
        interval = min(self.settings.poll_interval, lease / 3) if lease else self.settings.poll_interval
        next_purge = time.monotonic() + self.settings.purge_interval
        while True:
            await asyncio.sleep(interval)
            try:
                if self._orphans:
                    orphans = set(self._orphans)
                    await self.store.release(orphans)
                    self._orphans -= orphans
                    self._owned -= orphans
                if lease:
                    await self.store.renew(sorted(self._owned))
                await self._refill()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + self.settings.purge_interval
                    await self.store.purge(older_than=time.time() - self.settings.retention_seconds)
            except StoreError as exc:
                log.warning("store unavailable: %s", exc)
            except Exception:
                log.exception("dispatcher poll failed")

    async def _refill(self) -> None:
        """Take pending events from the store while the queue is at most half full."""
        while True:
            room = max(1, self.settings.queue_limit // 2) - self._queue.qsize() - self._reserved
            if room <= 0:
                return
            events = await self.store.acquire(limit=min(room, 500))
            for stored in events:
                if stored.id in self._owned:
                    continue  # already queued here; the store just confirmed we hold it
                self.metrics.recovered += 1
                self._enqueue(Job(id=stored.id, body=stored.body, done=stored.done_handlers))
            if len(events) < min(room, 500):
                return

    # -- workers ---------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            self._in_flight[job.id] = job
            try:
                if job.trace is None:  # no trace context: no span, so no context manager either
                    failures = await self._dispatch(job)
                else:
                    with handling(job.trace, job.id, job.event.type if job.event else None):
                        failures = await self._dispatch(job)
            except BaseException as exc:
                _log_retry(exc, f"event {job.id}", "dispatch")
                self._settle(job.id, None)
                if not isinstance(exc, Exception):
                    raise
                continue
            self._finishing.append((job, failures, time.time()))
            if len(self._finishing) == 1:
                asyncio.get_running_loop().call_soon(self._flush_finishes)
            elif len(self._finishing) >= _FINISH_BATCH:
                # Handlers that never suspend would let one worker empty the queue in one tick;
                # yield so the requests (and this batch's write) get their turn.
                await asyncio.sleep(0)

    def _flush_finishes(self) -> None:
        finishing, self._finishing = self._finishing, []
        if finishing:
            task = asyncio.get_running_loop().create_task(self._write_finishes(finishing))
            self._finishes.add(task)
            task.add_done_callback(self._finishes.discard)

    async def _write_finishes(self, finishing: list[tuple[Job, dict[str, str], float]]) -> None:
        """Close the events of one tick in one store call; only then do they stop being held here."""
        records: list[Finish] = [(job.id, failures, at) for job, failures, at in finishing]
        failed: BaseException | None = None
        try:
            await self.store.finish_many(records)
        except BaseException as exc:
            failed = exc
            _log_retry(exc, f"{len(records)} event(s)", "finishing")
        for job, failures, _ in finishing:
            self._settle(job.id, None if failed is not None else failures)
        if failed is not None and not isinstance(failed, Exception):
            raise failed

    def _settle(self, job_id: str, failures: dict[str, str] | None) -> None:
        """The event stops being held by a worker: finished with `failures` (empty: every handler
        succeeded), or, with None, left for a retry because its dispatch or finish failed."""
        if failures is None:
            self._orphans.add(job_id)
        else:
            self._owned.discard(job_id)
            if failures:
                self.metrics.dead_lettered += 1
            else:
                self.metrics.dispatched += 1
        self._in_flight.pop(job_id, None)
        self._queue.task_done()

    async def _dispatch(self, job: Job) -> dict[str, str]:
        """Run the event's handlers that have not succeeded yet; returns the failures by handler."""
        try:
            event = job.event if job.event is not None else parse_event(job.body)
        except MalformedEvent as exc:
            return {PARSE_FAILURE: str(exc)}
        matching = self.handlers.matching(event.type)
        if len(matching) == 1 and not job.done:
            # The common case: no task, and no done marker, since finishing the event records the
            # same thing (a crash in between runs the handler again, as with any at-least-once step).
            error = await self._run(job.id, matching[0], event, mark_done=False)
            return {} if error is None else {matching[0].name: error}
        todo = [r for r in matching if r.name not in job.done]
        if len(todo) == 1:
            errors = [await self._run(job.id, todo[0], event, mark_done=False)]
        else:
            errors = await asyncio.gather(*(self._run(job.id, r, event, mark_done=True) for r in todo))
        return {r.name: error for r, error in zip(todo, errors, strict=True) if error is not None}

    async def _run(
        self, event_id: str, registration: Registration, event: CallbackEvent, *, mark_done: bool
    ) -> str | None:
        """Run one handler until it succeeds or its retries are used up; returns the last error.

        With `mark_done`, a success is recorded at once, so a crash before the event finishes does
        not run this handler again.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._deadlines.run(registration.func(event))
            except Exception as exc:
                self.metrics.handler_failures += 1
                log.warning(
                    "event %s: handler %s failed (attempt %d): %r", event_id, registration.name, attempt, exc
                )
                if should_retry(attempt, self.settings.handler_retries):
                    await asyncio.sleep(
                        retry_delay(
                            attempt,
                            base=self.settings.retry_base_delay,
                            cap=self.settings.retry_max_delay,
                            jitter=self._jitter(),
                        )
                    )
                    continue
                await self._notify(
                    event,
                    HandlerFailure(event_id=event_id, handler=registration.name, attempts=attempt, error=exc),
                )
                return f"{type(exc).__name__}: {exc}"
            if mark_done:
                try:
                    await self.store.mark_handler_done(event_id, registration.name)
                except StoreError as exc:  # it ran; without the marker it may run again after a crash
                    log.warning("event %s: could not mark %s done: %s", event_id, registration.name, exc)
            return None

    async def _notify(self, event: CallbackEvent, failure: HandlerFailure) -> None:
        for hook in self.handlers.error_hooks:
            try:
                await hook(event, failure)
            except Exception:
                log.exception("on_error hook failed for event %s", failure.event_id)


def _log_retry(exc: BaseException, subject: str, step: str) -> None:
    """Say why `subject` will be retried: a store failure briefly, anything else with its traceback.

    Cancellation and other BaseExceptions are not failures and are not logged.
    """
    if isinstance(exc, StoreError):
        log.warning("%s: store failed (%s); will be retried", subject, exc)
    elif isinstance(exc, Exception):
        log.exception("%s: %s failed; will be retried", subject, step)
