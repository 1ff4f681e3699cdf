"""Log output for the `budai-server` and `budai-receiver` processes: text or JSON lines.

``--log-format json`` writes one JSON object per line (``time``, ``level``, ``logger``, ``message``
and any structured fields), so a log pipeline can index it; the access log adds ``method``,
``path``, ``status``, ``duration_ms``, ``remote`` and ``request_id`` (the ``X-Request-ID`` answered,
else the one asked with, else a webhook's ``webhook-id``).

Used by the two server processes only (the SDK client never imports it); it imports aiohttp's
access-logger base class because aiohttp accepts no other kind of access logger.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Final, Literal

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

__all__ = [
    "TEXT_ACCESS_FORMAT",
    "JsonAccessLogger",
    "JsonFormatter",
    "LogFormat",
    "access_log_options",
    "configure_logging",
]

LogFormat = Literal["text", "json"]
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# aiohttp's access-log format with the request id last.
TEXT_ACCESS_FORMAT: Final = '%a "%r" %s %b %Tf "%{User-Agent}i" request_id=%{X-Request-ID}o'
FIELDS: Final = ("method", "path", "status", "duration_ms", "remote", "request_id", "user_agent", "size")
_RESERVED: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO), level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """Set up the root logger of a server process: `level`, and text or JSON lines on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def access_log_options(log_format: LogFormat) -> dict[str, Any]:
    """Keyword arguments for aiohttp's `AppRunner` / `run_app`: the access logger for `log_format`."""
    if log_format == "json":
        return {"access_log_class": JsonAccessLogger}
    return {"access_log_format": TEXT_ACCESS_FORMAT}


class JsonAccessLogger(AbstractAccessLogger):
    """aiohttp access log as structured fields (rendered by `JsonFormatter`), with the request id."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        request_id = (
            response.headers.get("X-Request-ID")
            or request.headers.get("X-Request-ID")
            or request.headers.get("webhook-id")
        )
        self.logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "duration_ms": round(time * 1000, 3),
                "remote": request.remote,
                "request_id": request_id,
                "user_agent": request.headers.get("User-Agent"),
                "size": response.body_length,
            },
        )
