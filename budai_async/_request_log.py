"""Request logging: one line per HTTP attempt on the stdlib ``budai_async`` logger, secrets redacted.

Off unless the ``budai_async`` logger is enabled for INFO (by your logging setup, or ``BUDAI_LOG=info``
or ``BUDAI_LOG=debug``, read when a client is built). The client then wraps its transport for the
call in a `RequestLogger`; when logging is off that wrapper is never built, so the cost is one
``isEnabledFor`` check per call. Retries are logged by the retry loop (with their wait), websocket
(re)connects by the log follower and the status watch, on ``budai_async.ws``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Final

from budai_async._http import QueryParams, RawResponse, Sender, Timeout
from budai_async._retry import header_value
from budai_async.errors import BudError

__all__ = [
    "ENV_VAR",
    "REDACTED",
    "RequestLogger",
    "configure_from_env",
    "new_request_id",
    "redact_headers",
]

ENV_VAR: Final = "BUDAI_LOG"
REDACTED: Final = "[redacted]"
_SECRET_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO}
_log = logging.getLogger("budai_async")
_handler: logging.Handler | None = None


def new_request_id() -> str:
    """A fresh id for one logical call, sent as `X-Request-ID` (the server echoes it)."""
    return "req_" + os.urandom(12).hex()


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of `headers` safe to log: credentials replaced by ``[redacted]``."""
    return {k: (REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


def configure_from_env(environ: Mapping[str, str] | None = None) -> None:
    """Honour ``BUDAI_LOG=debug|info``: set the ``budai_async`` level and log to stderr (once).

    Without the variable nothing changes, so an application's own logging setup stays in charge.
    """
    global _handler
    value = (os.environ if environ is None else environ).get(ENV_VAR, "").strip().lower()
    level = _LEVELS.get(value)
    if level is None:
        return
    _log.setLevel(level)
    if _handler is None:
        _handler = logging.StreamHandler()
        _handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        _log.addHandler(_handler)


class RequestLogger:
    """The transport as one call sees it when logging is on: logs each attempt, then passes it on."""

    __slots__ = ("_attempt", "_default_headers", "_method", "_path", "_request_id", "_transport")

    def __init__(
        self,
        transport: Sender,
        *,
        method: str,
        path: str,
        request_id: str,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._transport = transport
        self._method = method
        self._path = path
        self._request_id = request_id
        self._default_headers = default_headers or {}
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
        """Send through the wrapped transport; one INFO line with the outcome, DEBUG the headers."""
        self._attempt += 1
        if _log.isEnabledFor(logging.DEBUG):
            sent = redact_headers({**self._default_headers, **(headers or {})})
            _log.debug(
                "%s %s attempt %d request_id=%s headers=%s body=%d bytes",
                self._method,
                self._path,
                self._attempt,
                self._request_id,
                sent,
                len(body or b""),
            )
        started = time.perf_counter()
        try:
            raw = await self._transport.send(
                method, url, params=params, headers=headers, body=body, timeout=timeout
            )
        except BudError as error:
            _log.info(
                "%s %s failed in %.1f ms request_id=%s attempt=%d: %s",
                self._method,
                self._path,
                (time.perf_counter() - started) * 1000,
                self._request_id,
                self._attempt,
                error,
            )
            raise
        _log.info(
            "%s %s %d in %.1f ms request_id=%s attempt=%d",
            self._method,
            self._path,
            raw.status,
            (time.perf_counter() - started) * 1000,
            header_value(raw.headers, "X-Request-ID") or self._request_id,
            self._attempt,
        )
        return raw
