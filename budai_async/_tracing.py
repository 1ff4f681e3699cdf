"""Optional OpenTelemetry client spans: one CLIENT span per HTTP attempt, with ``traceparent`` sent.

Active only when the application has imported OpenTelemetry and installed a tracer provider (extra
``otel``); this module never imports it itself, so without it there is nothing to load and a call
pays one dictionary lookup. Following the HTTP semantic conventions, each attempt is its own span and
a retry carries ``http.request.resend_count``; the span is the parent of the server's work, because
its context goes out in the ``traceparent`` header.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from budai_async._http import QueryParams, RawResponse, Sender, Timeout
from budai_async._version import __version__

__all__ = ["TracingSender", "tracing_active"]


def tracing_active() -> bool:
    """True when OpenTelemetry is loaded and a real tracer provider is installed."""
    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return False
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


class TracingSender:
    """The transport as one call sees it when tracing is on: a CLIENT span around each attempt."""

    __slots__ = ("_attempt", "_request_id", "_transport")

    def __init__(self, transport: Sender, *, request_id: str) -> None:
        self._transport = transport
        self._request_id = request_id
        self._attempt = 0

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: QueryParams | None,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        timeout: Timeout,  # noqa: ASYNC109 - passed through to the transport
    ) -> RawResponse:
        """Send inside a span named after the method; the span's context travels as ``traceparent``."""
        from opentelemetry import propagate, trace

        self._attempt += 1
        parts = urlsplit(url)
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.full": url,
            "server.address": parts.hostname or "",
            "budai.request_id": self._request_id,
        }
        if parts.port is not None:
            attributes["server.port"] = parts.port
        if self._attempt > 1:
            attributes["http.request.resend_count"] = self._attempt - 1
        tracer = trace.get_tracer_provider().get_tracer("budai_async", __version__)
        with tracer.start_as_current_span(
            method, kind=trace.SpanKind.CLIENT, attributes=attributes, record_exception=True
        ) as span:
            carrier = dict(headers or {})
            propagate.inject(carrier)
            try:
                raw = await self._transport.send(
                    method, url, params=params, headers=carrier, body=body, timeout=timeout
                )
            except Exception as error:
                span.set_attribute("error.type", type(error).__name__)
                raise
            span.set_attribute("http.response.status_code", raw.status)
            if raw.status >= 400:
                span.set_attribute("error.type", str(raw.status))
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            return raw
