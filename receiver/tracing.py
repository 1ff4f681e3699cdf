"""Optional OpenTelemetry in the receiver: a callback's handlers run in the sender's trace.

The server puts the execution's ``traceparent`` on its callbacks; the receiver keeps it with the
event it queued and runs the handlers inside a CONSUMER span that continues it, so the spans a
handler makes join the trace that started with the client's call. Active only when the process has
loaded OpenTelemetry and installed a tracer provider; otherwise nothing is kept and nothing runs.
Events recovered from the store (after a restart, a lease expiry, a replay) have no trace context.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = ["handling", "trace_headers", "tracing_active"]

_HEADERS = ("traceparent", "tracestate")


def tracing_active() -> bool:
    """True when OpenTelemetry is loaded and a real tracer provider is installed."""
    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return False
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def trace_headers(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The trace context headers of a callback request, when tracing is on and it has one."""
    if "traceparent" not in headers or not tracing_active():
        return None
    return {name: headers[name] for name in _HEADERS if name in headers}


@contextmanager
def handling(carrier: Mapping[str, str] | None, event_id: str, event_type: str | None) -> Iterator[None]:
    """Run the block (an event's handlers) in a CONSUMER span continuing `carrier`'s trace."""
    if carrier is None or not tracing_active():
        yield
        return
    from opentelemetry import propagate, trace

    from budai_async._version import __version__

    tracer = trace.get_tracer_provider().get_tracer("receiver", __version__)
    with tracer.start_as_current_span(
        f"callback {event_type or 'event'}",
        context=propagate.extract(carrier),
        kind=trace.SpanKind.CONSUMER,
        attributes={"budai.webhook_id": event_id, "budai.event_type": event_type or ""},
    ):
        yield
