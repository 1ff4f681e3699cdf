"""The callback outbox: durable, signed, retried delivery of `on_complete` / `on_failure` callbacks.

When an execution ends, the scheduler commits its final state and then calls `Outbox.on_terminal`,
which writes one delivery row (the exact JSON body, its stable ``webhook-id`` and when it is due)
before the scheduler moves on. One worker task sends due rows: it reads them from SQLite at start,
whenever a row is enqueued or an attempt ends (a wake event), and when the earliest retry falls due
(a timer) - never by polling. Each attempt is re-signed with a fresh timestamp, POSTed through one
`aiohttp.ClientSession` guarded by the outbound policy (`budai_server.outbound`; a refused
destination fails the delivery at once, naming the rule) under a per-attempt timeout, with at
most `max_concurrency` attempts in flight, and recorded with its outcome; the pure rules in
`outbox_rules` say what happens next.

The window between "final state committed" and "delivery row committed" is closed at start: the
outbox sweeps terminal executions that have a callback url but no delivery row and enqueues them.

Lifetime (one aiohttp cleanup context, added by the callbacks route setup): it starts after the
store and before the scheduler, so executions the scheduler ends while recovering are enqueued; it
stops after the scheduler, so executions that end during the scheduler's grace period are enqueued
too, and before the store closes. Stopping waits up to `shutdown_grace_seconds` for attempts in
flight and cancels the rest; a cancelled attempt is not recorded, so its row stays due and is sent
again (same ``webhook-id``) at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime

import aiohttp
import attrs
from aiohttp import web

from budai_async._convert import format_datetime
from budai_async._version import __version__
from budai_async.models import Execution
from budai_async.webhooks import generate_secret, signature_headers
from budai_server.appkeys import CONFIG, OUTBOX, SCHEDULER, STORE
from budai_server.config import ServerConfig
from budai_server.metrics import METRICS, Counter, Histogram, render_gauge
from budai_server.outbound import OutboundPolicy, OutboundRefused, make_session
from budai_server.outbound.client import refusal_of
from budai_server.outbox.rules import (
    DEFAULT_JITTER,
    DEFAULT_RETRY_SCHEDULE,
    AttemptOutcome,
    DeliveryStatus,
    build_payload,
    callback_for,
    check_schedule,
    check_secret,
    classify,
    delivery_id,
    encode_body,
    jittered,
    next_delay,
    parse_retry_after,
)
from budai_server.outbox.store import Attempt, Delivery, NewDelivery, OutboxStore
from budai_server.store.database import Store
from budai_server.tracing import ExecutionTraces

__all__ = ["Outbox", "OutboxMetrics", "OutboxSettings", "install", "outbox_ctx"]

logger = logging.getLogger(__name__)

#: How much of a failed response body is kept in the attempt's error, for the API.
ERROR_SNIPPET_BYTES = 512
#: Pause after the outbox's own database failed, so a broken disk does not become a hot loop.
STORE_ERROR_PAUSE_SECONDS = 1.0


@attrs.frozen(kw_only=True)
class OutboxSettings:
    """How callbacks are signed and retried; `secret` None means "the one stored in the database"."""

    secret: str | None = attrs.field(default=None, converter=check_secret)
    schedule: tuple[float, ...] = attrs.field(default=DEFAULT_RETRY_SCHEDULE, converter=check_schedule)
    jitter: float = attrs.field(
        default=DEFAULT_JITTER, validator=[attrs.validators.ge(0), attrs.validators.le(1)]
    )
    timeout_seconds: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))
    max_concurrency: int = attrs.field(default=16, validator=attrs.validators.ge(1))
    shutdown_grace_seconds: float = attrs.field(default=5.0, validator=attrs.validators.ge(0))
    user_agent: str = f"budai-server/{__version__}"
    #: Which callback URLs may be contacted; the default is the strict policy.
    policy: OutboundPolicy = attrs.field(factory=OutboundPolicy)

    @classmethod
    def from_config(cls, config: ServerConfig) -> OutboxSettings:
        return cls(
            secret=config.webhook_secret,
            schedule=config.callback_retry_schedule,
            jitter=config.callback_jitter,
            timeout_seconds=config.callback_timeout_seconds,
            max_concurrency=config.max_concurrent_callbacks,
            shutdown_grace_seconds=config.shutdown_grace_seconds,
            policy=config.outbound_policy(),
        )


class OutboxMetrics:
    """Delivery counters for /metrics: final outcomes, attempts by result, attempt latency, gauges."""

    def __init__(self) -> None:
        self.deliveries = Counter(
            "budai_callback_deliveries_total",
            "Callback deliveries that reached a final outcome (delivered, gone, failed).",
            ("outcome",),
        )
        self.attempts = Counter(
            "budai_callback_attempts_total", "HTTP attempts to deliver a callback, by result.", ("result",)
        )
        self.attempt_duration = Histogram(
            "budai_callback_attempt_duration_seconds", "Time of one callback HTTP attempt."
        )
        self.enqueued = Counter("budai_callbacks_enqueued_total", "Callback deliveries enqueued.")
        self.pending = 0
        self.in_flight = 0

    def render(self) -> Iterable[str]:
        yield from render_gauge(
            "budai_callbacks_pending", "Callback deliveries not final yet.", {(): self.pending}
        )
        yield from render_gauge(
            "budai_callbacks_in_flight", "Callback attempts in flight.", {(): self.in_flight}
        )
        for family in (self.enqueued, self.deliveries, self.attempts, self.attempt_duration):
            yield from family.render()


@attrs.frozen
class _Result:
    status_code: int | None
    error: str | None
    retry_after: float | None
    refused: bool = False


class Outbox:
    """Enqueues callbacks when executions end and delivers them; see the module docstring."""

    def __init__(
        self,
        store: Store,
        settings: OutboxSettings,
        *,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.records = OutboxStore(store)
        self.metrics = OutboxMetrics()
        self.traces: ExecutionTraces | None = None
        self.secret: str | None = settings.secret
        #: True when the secret was not configured and came from (or was generated into) the database.
        self.secret_from_store = False
        self._clock = clock
        self._rand = rand
        self._session: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[None]] = {}

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the tables, settle the secret, enqueue what a crash missed, start the worker."""
        await self.records.create_schema(datetime.fromtimestamp(self._clock(), UTC))
        if self.secret is None:
            self.secret = await self.records.load_or_store_secret(generate_secret())
            self.secret_from_store = True
        swept = 0
        for execution in await self.records.executions_missing_delivery():
            swept += await self.enqueue(execution)
        if swept:
            logger.warning("enqueued %d callback(s) missed by an earlier shutdown or crash", swept)
        self.metrics.pending = (await self.records.count_by_status()).get(DeliveryStatus.PENDING, 0)
        self._session = make_session(
            self.settings.policy,
            limit=self.settings.max_concurrency,
            headers={"User-Agent": self.settings.user_agent},
        )
        self._worker = asyncio.create_task(self._run(), name="budai-outbox")

    async def stop(self) -> None:
        """Stop picking rows, give attempts in flight the grace period, cancel the rest, close."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        tasks = list(self._in_flight.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        self._session = None

    # -- enqueueing ------------------------------------------------------------------------------

    async def on_terminal(self, execution: Execution) -> None:
        """Scheduler terminal listener: enqueue the execution's callback, if it has one."""
        await self.enqueue(execution)

    async def enqueue(self, execution: Execution) -> bool:
        """Store the delivery of a terminal execution's callback durably and wake the worker.

        Returns False when there is nothing to send (not terminal, or no url for how it ended) or
        the delivery already exists, so calling it twice is harmless.
        """
        found = callback_for(execution)
        if found is None:
            return False
        event_type, url = found
        now = self._clock()
        happened = execution.completed_at or datetime.fromtimestamp(now, UTC)
        body = encode_body(build_payload(execution, event_type, timestamp=format_datetime(happened)))
        delivery = NewDelivery(
            id=delivery_id(execution.id, event_type),
            execution_id=execution.id,
            event_type=event_type,
            url=url,
            body=body,
            created_at=now,
            next_attempt_at=now + jittered(self.settings.schedule[0], self.settings.jitter, self._rand()),
        )
        inserted = await self.records.enqueue(delivery)
        if inserted:
            self.metrics.enqueued.inc()
            self.metrics.pending += 1
            self._wake.set()
        return inserted

    # -- the worker ------------------------------------------------------------------------------

    async def _run(self) -> None:
        """Start due attempts while slots are free; sleep until woken or the next row is due."""
        while True:
            self._wake.clear()
            timeout: float | None = None
            try:
                free = self.settings.max_concurrency - len(self._in_flight)
                if free > 0:
                    for delivery in await self.records.due(self._clock(), free, list(self._in_flight)):
                        self._spawn(delivery)
                if len(self._in_flight) < self.settings.max_concurrency:
                    due_at = await self.records.next_due_at(list(self._in_flight))
                    if due_at is not None:
                        timeout = max(0.0, due_at - self._clock())
            except Exception:
                logger.exception("reading due callbacks failed; trying again shortly")
                timeout = STORE_ERROR_PAUSE_SECONDS
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    def _spawn(self, delivery: Delivery) -> None:
        task = asyncio.create_task(self._attempt_task(delivery), name=f"budai-callback-{delivery.id}")
        self._in_flight[delivery.id] = task
        self.metrics.in_flight = len(self._in_flight)

    async def _attempt_task(self, delivery: Delivery) -> None:
        try:
            await self._attempt(delivery)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Recording failed: keep the row out of the due set for a moment instead of re-sending at once.
            logger.exception("recording callback attempt of %s failed", delivery.id)
            await asyncio.sleep(STORE_ERROR_PAUSE_SECONDS)
        finally:
            self._in_flight.pop(delivery.id, None)
            self.metrics.in_flight = len(self._in_flight)
            self._wake.set()

    async def _attempt(self, delivery: Delivery) -> None:
        """Send one attempt, decide what comes next (`outbox_rules`), and record both at once."""
        number = delivery.attempts + 1
        started = self._clock()
        result = await self._post(delivery)
        finished = self._clock()
        outcome = classify(result.status_code)
        next_at: float | None = None
        if result.refused:
            status, label = DeliveryStatus.FAILED, "failed"  # the same URL would be refused again
        elif outcome is AttemptOutcome.DELIVERED:
            status, label = DeliveryStatus.DELIVERED, "delivered"
        elif outcome is AttemptOutcome.GONE:
            status, label = DeliveryStatus.GONE, "gone"
        else:
            delay = next_delay(
                number,
                self.settings.schedule,
                rand=self._rand(),
                jitter=self.settings.jitter,
                retry_after=result.retry_after,
            )
            if delay is None:
                status, label = DeliveryStatus.FAILED, "failed"
            else:
                status, label, next_at = DeliveryStatus.PENDING, "retry", finished + delay
        attempt = Attempt(
            delivery_id=delivery.id,
            number=number,
            started_at=started,
            duration_seconds=round(max(0.0, finished - started), 6),
            status_code=result.status_code,
            error=result.error,
            outcome=label,
        )
        await self.records.record_attempt(attempt, status, next_at, finished)
        self.metrics.attempts.inc(label)
        self.metrics.attempt_duration.observe(attempt.duration_seconds)
        if status is not DeliveryStatus.PENDING:
            self.metrics.deliveries.inc(status.value)
            self.metrics.pending = max(0, self.metrics.pending - 1)
            log = logger.info if status is DeliveryStatus.DELIVERED else logger.warning
            log("callback %s to %s %s after %d attempt(s)", delivery.id, delivery.url, status.value, number)

    async def _post(self, delivery: Delivery) -> _Result:
        """POST the stored body, freshly signed; timeouts and connection errors become an error text."""
        assert self._session is not None and self.secret is not None, "the outbox is not started"
        headers = signature_headers(self.secret, delivery.id, delivery.body, int(self._clock()))
        headers["Content-Type"] = "application/json"
        if self.traces is not None:  # OpenTelemetry on: the receiver continues the execution's trace
            headers.update(self.traces.callback_headers(delivery.execution_id))
        timeout = self.settings.timeout_seconds
        try:
            async with (
                asyncio.timeout(timeout),
                self._session.post(
                    delivery.url, data=delivery.body, headers=headers, allow_redirects=False
                ) as response,
            ):
                snippet = await response.content.read(ERROR_SNIPPET_BYTES)
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        except OutboundRefused as exc:
            return _Result(None, str(exc), None, refused=True)
        except TimeoutError:
            return _Result(None, f"timed out after {timeout:g} s", None)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            refused = refusal_of(exc)
            if refused is not None:
                return _Result(None, str(refused), None, refused=True)
            return _Result(None, f"{type(exc).__name__}: {exc}", None)
        if 200 <= status < 300:
            return _Result(status, None, retry_after)
        text = snippet.decode("utf-8", errors="replace").strip()
        return _Result(status, f"HTTP {status}" + (f": {text}" if text else ""), retry_after)

    # -- reading ---------------------------------------------------------------------------------

    async def deliveries(self, execution_id: str) -> list[tuple[Delivery, list[Attempt]]]:
        """An execution's deliveries with their attempts (for the API)."""
        return await self.records.for_execution(execution_id)


def install(app: web.Application) -> Outbox:
    """Build the app's outbox, listen for ending executions and add its cleanup context.

    Call from a route setup: after `create_app` made the store and the scheduler, before the
    scheduler's own cleanup context is appended (that fixes the start/stop order above).
    """
    outbox = Outbox(app[STORE], OutboxSettings.from_config(app[CONFIG]))
    app[OUTBOX] = outbox
    app[SCHEDULER].add_terminal_listener(outbox.on_terminal)
    outbox.traces = app[SCHEDULER].traces
    metrics = app.get(METRICS)
    if metrics is not None:
        metrics.collectors.append(outbox.metrics.render)
    app.cleanup_ctx.append(outbox_ctx)
    return outbox


async def outbox_ctx(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: start the outbox, and stop it when the app shuts down."""
    outbox: Outbox = app[OUTBOX]
    await outbox.start()
    try:
        yield
    finally:
        await outbox.stop()
