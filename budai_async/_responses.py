"""Turn an HTTP answer into data or into the right exception: pure functions over status, headers, bytes.

Reads our server's error body ``{"error": {"code", "message", "details"}}`` and the real BudAI
gateway's variants (``{"message"}``, ``{"detail": {"error": {...}}}``, ``{"detail": "..."}``), so the
exception message is the server's own words whichever server answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from budai_async._json import loads
from budai_async._retry import header_value, parse_retry_after
from budai_async.errors import APIStatusError, RateLimitError, status_error_for

__all__ = ["decode_body", "error_from_response", "error_message", "field_reasons", "request_id_of"]

_MAX_TEXT = 300


def decode_body(body: bytes) -> Any:
    """JSON when the body parses as JSON, else its text; None for an empty body."""
    if not body:
        return None
    try:
        return loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def error_message(body: Any, status: int) -> str:
    """The human message of an error body in any known shape; ``HTTP <status>`` when there is none."""
    if isinstance(body, str):
        return body.strip()[:_MAX_TEXT] or f"HTTP {status}"
    if not isinstance(body, Mapping):
        return f"HTTP {status}"
    error = body.get("error")
    if isinstance(error, Mapping) and _text(error.get("message")):
        return str(error["message"])
    if _text(body.get("message")):
        return str(body["message"])
    detail = body.get("detail")
    if isinstance(detail, Mapping):
        inner = detail.get("error")
        if isinstance(inner, Mapping) and _text(inner.get("message")):
            return str(inner["message"])
        if _text(inner):
            errors = detail.get("errors")
            if isinstance(errors, list) and errors:
                return f"{inner}: " + "; ".join(str(item) for item in errors)
            return str(inner)
    if _text(detail):
        return str(detail)
    if _text(error):
        return str(error)
    return f"HTTP {status}"


_MAX_REASONS = 10


def field_reasons(body: Any) -> list[str]:
    """Each field fault of an error body as ``"path: reason"``.

    Reads our ``error.details`` (``[{path, message}]``) and FastAPI's ``detail`` list
    (``[{loc, msg}]``, what the real gateway answers for a bad request body).
    """
    if not isinstance(body, Mapping):
        return []
    error = body.get("error")
    items = error.get("details") if isinstance(error, Mapping) else body.get("detail")
    if not isinstance(items, list):
        return []
    reasons = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        reason = _text(item.get("message")) or _text(item.get("msg"))
        if reason is None:
            continue
        path = item.get("path")
        if path is None and isinstance(item.get("loc"), list):
            path = ".".join(str(part) for part in item["loc"] if part != "body")
        reasons.append(f"{path}: {reason}" if path else reason)
    return reasons


def _with_reasons(message: str, body: Any) -> str:
    """The message followed by every field's reason (``invalid request: priority: must be one of ...``).

    A message that ends with the bare list of faulty paths (our server's ``invalid request: a, b``)
    loses that list, since the reasons name the paths again.
    """
    reasons = field_reasons(body)
    if not reasons:
        return message
    error = body.get("error") if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    if isinstance(details, list):
        paths = ", ".join(str(d.get("path")) for d in details if isinstance(d, Mapping))
        if paths and message.endswith(f": {paths}"):
            message = message[: -len(paths) - 2]
    more = len(reasons) - _MAX_REASONS
    shown = "; ".join(reasons[:_MAX_REASONS]) + (f"; and {more} more" if more > 0 else "")
    return f"{message}: {shown}"


def request_id_of(headers: Mapping[str, str], body: Any = None) -> str | None:
    """The request id: our `X-Request-ID` header, else the gateway's `correlation_id` in the body."""
    value = header_value(headers, "X-Request-ID")
    if value:
        return value
    detail = body.get("detail") if isinstance(body, Mapping) else None
    if isinstance(detail, Mapping) and _text(detail.get("correlation_id")):
        return str(detail["correlation_id"])
    return None


def _retry_after(headers: Mapping[str, str], body: Any, now: datetime) -> float | None:
    seconds = parse_retry_after(header_value(headers, "Retry-After"), now=now)
    if seconds is None and isinstance(body, Mapping):
        value = body.get("retry_after_seconds", body.get("retry_after"))
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            seconds = float(value)
    return seconds


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, *, now: datetime, context: str = ""
) -> APIStatusError:
    """Build the exception for a non-2xx answer: class by status, message, request id, parsed body."""
    parsed = decode_body(body)
    message = _with_reasons(error_message(parsed, status), parsed)
    if context:
        message = f"{message} ({context})"
    cls = status_error_for(status)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "request_id": request_id_of(headers, parsed),
        "body": parsed,
        "headers": dict(headers.items()),
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=_retry_after(headers, parsed, now), **kwargs)
    return cls(message, **kwargs)
