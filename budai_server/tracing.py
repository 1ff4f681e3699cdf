"""Optional OpenTelemetry on the server: the caller's trace continues through the execution.

Active only when the process has loaded OpenTelemetry and installed a tracer provider when the app
is built (e.g. under ``opentelemetry-instrument budai-server``, or an embedding program that set
one up); this module never imports OpenTelemetry at load time, and without it `create_app` adds
nothing, so the cost is one dictionary lookup per app.

- `middleware`: a SERVER span per request, child of the request's ``traceparent``.
- `ExecutionTraces`: an ``execution`` span from start to end, child of the request that queued it
  (or a root span after a restart), made current for the runner so the actions' own spans nest in
  it; one ``step`` span per finished step with its real start and end; and the ``traceparent``
  the callback of an ended execution carries (kept for the newest `limit` executions, in memory).
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from budai_async._version import __version__
from budai_async.models import Execution, ExecutionStatus, StepRun

__all__ = ["ExecutionTraces", "middleware", "tracing_active"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def tracing_active() -> bool:
    """True when OpenTelemetry is loaded and a real tracer provider is installed."""
    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return False
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def _tracer() -> Any:
    from opentelemetry import trace

    return trace.get_tracer_provider().get_tracer("budai_server", __version__)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _nanos(moment: datetime | None) -> int | None:
    """Nanoseconds since the epoch, exactly (no float rounding), as OpenTelemetry takes times."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # the server's times are UTC
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A SERVER span around the request, continuing the caller's ``traceparent``."""
    from opentelemetry import propagate, trace

    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    attributes = {"http.request.method": request.method, "http.route": route, "url.path": request.path}
    with _tracer().start_as_current_span(
        f"{request.method} {route}",
        context=propagate.extract(request.headers),
        kind=trace.SpanKind.SERVER,
        attributes=attributes,
    ) as span:
        response = await handler(request)
        span.set_attribute("http.response.status_code", response.status)
        if response.status >= 500:
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        return response


class ExecutionTraces:
    """The spans of executions and their steps; the scheduler and the outbox call in."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._parents: dict[str, Any] = {}  # execution id -> context of the request that queued it
        self._spans: dict[str, Any] = {}  # execution id -> its open span
        self._ended: OrderedDict[str, Any] = OrderedDict()  # execution id -> context, for callbacks

    def queued(self, execution_id: str) -> None:
        """Remember the current context (the request's span) as the execution's parent."""
        from opentelemetry import context

        if len(self._parents) < self._limit:
            self._parents[execution_id] = context.get_current()

    def started(self, execution: Execution) -> object:
        """Open the execution span and make it current; returns the token for `detach`."""
        from opentelemetry import context, trace

        span = _tracer().start_span(
            "execution",
            context=self._parents.pop(execution.id, None),
            kind=trace.SpanKind.INTERNAL,
            attributes={"budai.execution_id": execution.id, "budai.pipeline_id": execution.pipeline_id},
        )
        self._spans[execution.id] = span
        return context.attach(trace.set_span_in_context(span))

    def detach(self, token: object) -> None:
        from opentelemetry import context

        context.detach(token)  # type: ignore[arg-type]

    def step_finished(self, execution_id: str, step_id: str, action: str, run: StepRun) -> None:
        """Record a finished step as a child span with its own start and end times."""
        parent = self._spans.get(execution_id)
        if parent is None:
            return
        from opentelemetry import trace

        span = _tracer().start_span(
            f"step {step_id}",
            context=trace.set_span_in_context(parent),
            attributes={
                "budai.execution_id": execution_id,
                "budai.step_id": step_id,
                "budai.action": action,
                "budai.step.status": str(run.status),
            },
            start_time=_nanos(run.started_at),
        )
        if run.error:
            span.set_status(trace.Status(trace.StatusCode.ERROR, run.error))
        span.end(end_time=_nanos(run.completed_at))

    async def finished(self, final: Execution) -> None:
        """Terminal listener: close the execution span and keep its context for the callback."""
        self._parents.pop(final.id, None)
        span = self._spans.pop(final.id, None)
        if span is None:
            return
        from opentelemetry import trace

        span.set_attribute("budai.status", str(final.status))
        if final.status != ExecutionStatus.COMPLETED:
            span.set_status(trace.Status(trace.StatusCode.ERROR, final.error or str(final.status)))
        span.end()
        self._ended[final.id] = trace.set_span_in_context(span)
        while len(self._ended) > self._limit:
            self._ended.popitem(last=False)

    def callback_headers(self, execution_id: str) -> dict[str, str]:
        """``traceparent`` (and ``tracestate``) for the callback of an ended execution, if known."""
        ended = self._ended.get(execution_id)
        if ended is None:
            return {}
        from opentelemetry import propagate

        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=ended)
        return carrier
