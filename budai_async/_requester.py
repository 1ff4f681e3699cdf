"""What resources, fan-out and the log follower need from a client: the `Requester` protocol.

They are handed an object of this shape instead of importing `AsyncBudClient`, so the client sits
on top and every arrow points down (no import circles). JSON encoding of request bodies lives here
too, because the client and the batch sender both need it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final, Protocol

import attrs

from budai_async._convert import to_json_dict
from budai_async._http import Timeout, TimeoutLike
from budai_async._retry import RetryPolicy
from budai_async._version import __version__
from budai_async.errors import ValidationError

__all__ = [
    "UNSET",
    "Query",
    "Requester",
    "Unset",
    "encode_json",
    "json_default",
    "new_idempotency_key",
    "websocket_headers",
]


class Unset:
    """The type of `UNSET`: "argument not given", distinct from None."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset()
Query = Sequence[tuple[str, str]]


def new_idempotency_key() -> str:
    """A fresh key for one logical call; reuse it yourself to make a call safe to repeat later."""
    return f"budai_{uuid.uuid4().hex}"


MAX_IDEMPOTENCY_KEY_LENGTH: Final = 255


def checked_idempotency_key(key: object, name: str = "idempotency_key") -> str:
    """A caller's key (`name` is the argument it came in): non-empty printable ASCII of at most
    255 characters, as the server's `Idempotency-Key` header takes, else a ValidationError.

    An empty key is an error, not a silent fresh key: two calls passing ``""`` would otherwise each
    start a run the caller believed was guarded.
    """
    if not isinstance(key, str) or not key:
        raise ValidationError(f"{name} must be a non-empty string, got {key!r}")
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise ValidationError(
            f"{name} must be printable ASCII of at most {MAX_IDEMPOTENCY_KEY_LENGTH} "
            f"characters (it is sent as a header), got {key!r}"
        )
    return key


def idempotency_key_or_new(key: object) -> str:
    """The caller's key, checked, or a fresh one for None."""
    return new_idempotency_key() if key is None else checked_idempotency_key(key)


def json_default(value: Any) -> Any:
    """`json.dumps` default for request bodies: dates as ISO strings, attrs models, sets and tuples."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if attrs.has(type(value)):
        return to_json_dict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_json(value: Any) -> bytes:
    """Compact JSON bytes; dates become ISO strings; raises ValidationError naming the bad type."""
    try:
        return json.dumps(value, separators=(",", ":"), default=json_default).encode()
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"request body is not JSON: {exc}") from exc


def websocket_headers(api_key: str | None) -> dict[str, str]:
    """Headers of a websocket handshake (log follow, status watch): the REST calls' key and user agent."""
    headers = {"User-Agent": f"budai-async/{__version__}"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


class Requester(Protocol):
    """The client as its parts see it: where it points, how it retries, and its one `request()`."""

    @property
    def base_url(self) -> str: ...

    @property
    def api_key(self) -> str | None: ...

    @property
    def timeout(self) -> Timeout: ...

    @property
    def retry_policy(self) -> RetryPolicy: ...

    @property
    def websocket_proxy(self) -> str | None: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Query | None = None,
        json_body: Any = UNSET,
        timeout: TimeoutLike | Unset = UNSET,  # noqa: ASYNC109 - per-attempt HTTP timeouts
        max_retries: int | None = None,
        idempotency_key: str | None = None,
        missing_ok_after_retry: bool = False,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any: ...
