"""Exception tree of the SDK: one base, transport errors, and one class per HTTP status family.

Callers catch `BudError` for everything, `APIStatusError` for any non-2xx answer, or a precise
subclass; `status_error_for` is the one place that maps a status code to its class.
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "TimeoutError",
    "UnprocessableEntityError",
    "ValidationError",
    "status_error_for",
]


class BudError(Exception):
    """Base class of every error raised by budai_async."""

    @property
    def message(self) -> str:
        """The error's text, as `str(error)` gives it (openai-python's `error.message`)."""
        return str(self)


class ValidationError(BudError, ValueError):
    """A pipeline definition or argument was rejected before any request was sent."""

    def __init__(self, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.errors = list(errors or [])


class APIConnectionError(BudError):
    """The request never got an HTTP answer (refused, reset, DNS, TLS)."""

    def __init__(self, message: str = "Connection error.", *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class APITimeoutError(APIConnectionError):
    """The HTTP request itself timed out (connect, read or total)."""

    def __init__(self, message: str = "Request timed out.", *, request_id: str | None = None) -> None:
        super().__init__(message, request_id=request_id)


class TimeoutError(BudError, builtins.TimeoutError):
    """Waiting for an execution passed its deadline; the execution itself keeps running.

    Also a builtin ``TimeoutError``, so ``except TimeoutError`` works with or without our import.
    """

    def __init__(
        self, message: str, *, execution_id: str | None = None, last_status: str | None = None
    ) -> None:
        super().__init__(message)
        self.execution_id = execution_id
        self.last_status = last_status


class APIStatusError(BudError):
    """The server answered with a non-2xx status; `body` is the parsed JSON (or text)."""

    status_code: int = 0

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        self.headers = dict(headers or {})

    @property
    def code(self) -> str | None:
        """The server's machine-readable error code, when it sent one."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error.get("code") if isinstance(error, dict) else None

    @property
    def details(self) -> Any:
        """The server's `error.details` (for 422: the list of field faults)."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error.get("details") if isinstance(error, dict) else None


class BadRequestError(APIStatusError):
    """400."""


class AuthenticationError(APIStatusError):
    """401: missing or wrong API key."""


class PermissionDeniedError(APIStatusError):
    """403."""


class NotFoundError(APIStatusError):
    """404: the pipeline, execution or route does not exist."""


class ConflictError(APIStatusError):
    """409: e.g. cancelling an execution that already ended."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well-formed but a field was invalid (see `details`)."""


class RateLimitError(APIStatusError):
    """429; `retry_after` is the server's Retry-After in seconds, when given."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """5xx."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: BadRequestError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_for(status_code: int) -> type[APIStatusError]:
    """Return the exception class for an HTTP status (5xx -> InternalServerError)."""
    if status_code >= 500:
        return InternalServerError
    return _BY_STATUS.get(status_code, APIStatusError)
