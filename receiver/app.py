"""The HTTP side: the callback endpoint, health, readiness and metrics, and the app lifecycle.

The callback endpoint checks, in order: readiness (503), content type (415), size (413), signature
and timestamp (401), body (400), queue room (503 + Retry-After), then stores with one atomic claim
(grouped with the other claims of the same event-loop tick, `receiver.claims`) and only then answers
202 (new) or 200 (duplicate). Any unexpected error becomes a 503, never a 500,
so the sender retries instead of giving up.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence

from aiohttp import web

from budai_async.webhooks import Verifier, WebhookVerificationError
from receiver.claims import ClaimBatcher
from receiver.dispatch import Dispatcher
from receiver.events import MalformedEvent, parse_event
from receiver.metrics import Metrics
from receiver.stores.base import Store, StoreError
from receiver.tracing import trace_headers

__all__ = ["Runtime"]

log = logging.getLogger("receiver.app")

_ACCEPTED = b'{"status":"accepted"}'
_DUPLICATE = b'{"status":"duplicate"}'
_STALE = frozenset({"timestamp_too_old", "timestamp_too_new"})


def _error(status: int, code: str, message: str, *, retry_after: int | None = None) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    body = json.dumps({"error": {"code": code, "message": message}})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """Read the whole body, or return None as soon as it is known to exceed `limit` bytes."""
    length = request.content_length
    if length is not None and length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class Runtime:
    """One receiver's live state inside one aiohttp app: store, dispatcher, metrics, readiness."""

    def __init__(
        self,
        *,
        secrets: Sequence[str],
        store: Store,
        dispatcher: Dispatcher,
        metrics: Metrics,
        tolerance: float,
        max_body_bytes: int,
        retry_after: int,
        shutdown_timeout: float,
        clock: Callable[[], float],
    ) -> None:
        self.secrets = tuple(secrets)
        self.verifier = Verifier(self.secrets, tolerance=tolerance)
        self.claims = ClaimBatcher(store, dispatcher)
        self.store = store
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.tolerance = tolerance
        self.max_body_bytes = max_body_bytes
        self.retry_after = retry_after
        self.shutdown_timeout = shutdown_timeout
        self.clock = clock
        self.state = "starting"

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def _reject(self, status: int, reason: str, message: str, *, retry: bool = False) -> web.Response:
        self.metrics.rejected[reason] += 1
        return _error(status, reason, message, retry_after=self.retry_after if retry else None)

    # -- routes ----------------------------------------------------------------------------------

    async def handle_callback(self, request: web.Request) -> web.Response:
        """POST handler for signed callbacks; see the module docstring for the order of checks."""
        started = time.perf_counter()
        try:
            response = await self._accept(request)
        except Exception:
            log.exception("unexpected error while accepting a callback")
            return self._reject(503, "internal_error", "unexpected error; retry later", retry=True)
        if response.status in (200, 202):
            self.metrics.ack_latency.observe(time.perf_counter() - started)
        return response

    async def _accept(self, request: web.Request) -> web.Response:
        if not self.ready:
            return self._reject(503, "not_ready", f"receiver is {self.state}; retry later", retry=True)
        # The exact header the server sends needs no parsing; anything else goes through aiohttp's.
        if request.headers.get("Content-Type") != "application/json" and not _is_json(request.content_type):
            return self._reject(415, "unsupported_media_type", "Content-Type must be application/json")
        body = await _read_body(request, self.max_body_bytes)
        if body is None:
            return self._reject(413, "too_large", f"body exceeds {self.max_body_bytes} bytes")
        try:
            text = self.verifier.verify(request.headers, body, now=self.clock())
        except WebhookVerificationError as exc:
            if exc.reason == "invalid_body":
                return self._reject(400, "invalid_body", str(exc))
            code = "stale_timestamp" if exc.reason in _STALE else "invalid_signature"
            self.metrics.rejected[exc.reason] += 1
            return _error(401, code, str(exc))
        try:
            event = parse_event(text)
        except MalformedEvent as exc:
            return self._reject(400, "malformed", str(exc))
        if not self.dispatcher.try_reserve():
            return self._reject(503, "overloaded", "dispatch queue is full; retry later", retry=True)
        # Group commit: this claim joins the tick's batch; the batch (not this request) queues the
        # new event, so a request cancelled while waiting never strands a stored event.
        event_id = request.headers["webhook-id"]
        batch, index = self.claims.add(event_id, body, event, self.clock(), trace_headers(request.headers))
        try:
            new = (await batch)[index]
        except StoreError as exc:
            log.warning("could not store callback %s: %s", event_id, exc)
            return self._reject(503, "store_unavailable", "storage unavailable; retry later", retry=True)
        if new:
            self.metrics.received += 1
            return web.Response(status=202, body=_ACCEPTED, content_type="application/json")
        self.metrics.duplicates += 1
        return web.Response(status=200, body=_DUPLICATE, content_type="application/json")

    async def handle_health(self, request: web.Request) -> web.Response:
        """Liveness: the process answers."""
        return web.json_response({"status": "ok"})

    async def handle_ready(self, request: web.Request) -> web.Response:
        """Readiness: 200 while accepting callbacks, 503 while starting or draining."""
        return web.json_response({"status": self.state}, status=200 if self.ready else 503)

    async def handle_metrics(self, request: web.Request) -> web.Response:
        """Prometheus text exposition."""
        text = self.metrics.render(
            queue_depth=self.dispatcher.depth, in_flight=self.dispatcher.in_flight, ready=self.ready
        )
        return web.Response(text=text, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    # -- lifecycle -------------------------------------------------------------------------------

    async def on_shutdown(self, app: web.Application) -> None:
        """First step of shutdown: readiness goes 503 and new callbacks are refused with 503."""
        if self.state == "ready":
            self.state = "draining"

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: open the store and start dispatch (recovering pending events) before serving;
        on the way out drain the dispatcher, release what is left, and close the store."""
        await self.store.open()
        try:
            await self.dispatcher.start()
        except BaseException:
            await self.store.close()
            raise
        self.state = "ready"
        try:
            yield
        finally:
            self.state = "draining"
            try:
                await self.claims.drain()  # claims under way reach the dispatcher before it stops
                await self.dispatcher.stop(self.shutdown_timeout)
            finally:
                await self.store.close()
                self.state = "stopped"
