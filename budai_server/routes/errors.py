"""The one error shape of the API and the middleware that guarantees it.

Every 4xx/5xx body is ``{"error": {"code", "message", "details"}}``. Handlers raise `ApiError`;
aiohttp's own HTTP exceptions (unknown route, wrong method, body too large) are converted here;
anything unexpected is logged with its request id and answered as a JSON 500. A signal handler adds
`X-Request-ID` to every response (the client's own id is echoed when it sent a sane one), including
websocket upgrades and answers produced outside the handlers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from budai_server.appkeys import CONFIG
from budai_server.metrics import Metrics

__all__ = [
    "REQUEST_ID",
    "ApiError",
    "Handler",
    "dump_json",
    "error_body",
    "json_response",
    "make_error_middleware",
    "request_id_of",
    "set_request_id_header",
]

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REQUEST_ID: web.RequestKey[str] = web.RequestKey("budai_request_id", str)
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


# Reused: `json.dumps` with options builds a new encoder per call (several per batch item).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dump_json(data: Any) -> str:
    """The server's JSON text (compact, UTF-8 kept); the idempotency replay stores this exact text."""
    return _ENCODER.encode(data)


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=dump_json(data), status=status, content_type="application/json", headers=headers)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


class ApiError(Exception):
    """A client-visible failure; `details` for 422 is a list of ``{path, message, code}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers or {}

    @classmethod
    def invalid(cls, issues: Sequence[dict[str, Any]], message: str | None = None) -> ApiError:
        """422 naming every faulty field."""
        paths = ", ".join(str(issue.get("path")) for issue in issues)
        return cls(422, message or f"invalid request: {paths}", details=list(issues))

    @classmethod
    def not_found(cls, kind: str, item_id: str) -> ApiError:
        return cls(404, f"{kind} {item_id!r} not found", details={"id": item_id, "type": kind})

    def response(self) -> web.Response:
        return json_response(
            error_body(self.code, self.message, self.details), status=self.status, headers=self.headers
        )


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> web.Response:
    status = exc.status
    headers: dict[str, str] = {}
    details: Any = None
    message = exc.reason
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(exc.allowed_methods)
        headers["Allow"] = ",".join(allowed)
        details = {"method": exc.method, "allowed": allowed}
        message = f"method {exc.method} is not allowed here; allowed: {', '.join(allowed)}"
    elif isinstance(exc, web.HTTPNotFound):
        message = "no such route"
    elif isinstance(exc, web.HTTPRequestEntityTooLarge):
        config = request.app.get(CONFIG)
        limit = config.max_body_bytes if config is not None else None
        message = "request body is too large" + (f": at most {limit} bytes (max_body_bytes)" if limit else "")
        details = {"limit": "max_body_bytes", "max_bytes": limit}
    for name in ("Retry-After", "WWW-Authenticate"):
        if name in exc.headers:
            headers[name] = exc.headers[name]
    body = error_body(_CODES.get(status, "error"), message, details)
    return json_response(body, status=status, headers=headers)


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def make_error_middleware(metrics: Metrics) -> Any:
    """Build the outermost middleware: JSON errors, 500 safety net, HTTP metrics."""

    @web.middleware
    async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        request_id_of(request)
        status = 500
        try:
            try:
                response = await handler(request)
            except ApiError as exc:
                response = exc.response()
            except web.HTTPException as exc:
                if exc.status < 400:
                    raise
                response = _from_http_exception(exc, request)
            except Exception:
                logger.exception(
                    "unhandled error on %s %s (request id %s)",
                    request.method,
                    request.path,
                    request.get(REQUEST_ID),
                )
                body = error_body(
                    "internal_error",
                    "internal server error",
                    {"request_id": request.get(REQUEST_ID)},
                )
                response = json_response(body, status=500)
            status = response.status
            return response
        except asyncio.CancelledError:
            status = 499  # the client went away
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(request)
            metrics.http_requests.inc(request.method, route, str(status))
            metrics.http_duration.observe(elapsed, request.method, route)

    return error_middleware


def request_id_of(request: web.BaseRequest) -> str:
    """The request's id: the client's `X-Request-ID` when sane, else a new one (memoised)."""
    existing = request.get(REQUEST_ID)
    if isinstance(existing, str):
        return existing
    sent = request.headers.get("X-Request-ID", "")
    request_id = sent if _SANE_REQUEST_ID.match(sent) else f"req_{uuid.uuid4().hex}"
    request[REQUEST_ID] = request_id
    return request_id


async def set_request_id_header(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` signal: every response carries the request's id."""
    response.headers["X-Request-ID"] = request_id_of(request)
