"""`AsyncBudClient`: configuration, the one `request()` with its retry loop, and the resources.

Settings come from arguments, else from `BUDAI_API_KEY` / `BUDAI_BASE_URL` read when the client is
built (never at import). Every POST carries an `Idempotency-Key` made once per logical call and sent
unchanged on each retry, so a create whose answer was lost is not run twice by the server.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final

import attrs
import backoff

from budai_async._http import HTTPTransport, Timeout, TimeoutLike
from budai_async._requester import (
    UNSET,
    Query,
    encode_json,
    json_default,
    new_idempotency_key,
)
from budai_async._requester import Unset as _Unset
from budai_async._responses import decode_body, error_from_response
from budai_async._retry import RetryPolicy, should_retry, wait_generator
from budai_async._version import __version__
from budai_async.errors import APIConnectionError, APIStatusError, NotFoundError, ValidationError
from budai_async.resources.actions import ActionsResource
from budai_async.resources.event_triggers import EventTriggersResource
from budai_async.resources.executions import ExecutionsResource
from budai_async.resources.pipelines import PipelinesResource
from budai_async.resources.schedules import SchedulesResource
from budai_async.resources.webhooks import WebhooksResource

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "AsyncBudClient", "json_default", "new_idempotency_key"]

DEFAULT_BASE_URL: Final = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT: Final = Timeout(connect=10.0, read=60.0, total=None)
_KEYED_METHODS: Final = frozenset({"POST"})
_log = logging.getLogger("budai_async")


class AsyncBudClient:
    """Asynchronous client of a BudAI pipeline server: ``async with AsyncBudClient() as client: ...``.

    One pooled HTTP session per client, opened on first use inside the running event loop and bound
    to it; close it with ``async with`` or ``await client.aclose()``. `with_options` returns a copy
    with other timeouts or retries that shares the session (closing the copy leaves it open).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        max_connections: int = 100,
        max_connections_per_host: int = 0,
        keepalive_timeout: float | None = 15.0,
        default_headers: Mapping[str, str] | None = None,
        retry_initial_delay: float = 0.5,
        retry_max_delay: float = 8.0,
        max_retry_after: float = 60.0,
    ) -> None:
        self._owns_transport = False  # set first, so __del__ is safe if validation below raises
        key = api_key if api_key is not None else os.environ.get("BUDAI_API_KEY") or None
        url = base_url or os.environ.get("BUDAI_BASE_URL") or DEFAULT_BASE_URL
        if not url.startswith(("http://", "https://")):
            raise ValidationError(f"base_url must start with http:// or https://, got {url!r}")
        self._base_url = url.rstrip("/")
        self._api_key = key
        self._timeout = Timeout.of(timeout)
        self._policy = RetryPolicy(
            max_retries=max_retries,
            initial_delay=retry_initial_delay,
            max_delay=retry_max_delay,
            max_retry_after=max_retry_after,
        )
        headers = {
            "Accept": "application/json",
            "User-Agent": f"budai-async/{__version__}",
        }
        if key:
            headers["Authorization"] = f"Bearer {key}"
        headers.update(default_headers or {})
        self._transport = HTTPTransport(
            headers=headers,
            max_connections=max_connections,
            max_connections_per_host=max_connections_per_host,
            keepalive_timeout=keepalive_timeout,
        )
        self._owns_transport = True
        self._attach_resources()

    def _attach_resources(self) -> None:
        self.pipelines = PipelinesResource(self)
        self.executions = ExecutionsResource(self)
        self.actions = ActionsResource(self)
        self.schedules = SchedulesResource(self)
        self.webhooks = WebhooksResource(self)
        self.event_triggers = EventTriggersResource(self)

    # ------------------------------------------------------------------ configuration

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def api_key(self) -> str | None:
        return self._api_key

    @property
    def timeout(self) -> Timeout:
        return self._timeout

    @property
    def max_retries(self) -> int:
        return self._policy.max_retries

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._policy

    @property
    def closed(self) -> bool:
        return self._transport.closed

    def with_options(
        self, *, timeout: TimeoutLike | _Unset = UNSET, max_retries: int | None = None
    ) -> AsyncBudClient:
        """A client with other timeouts and/or retries sharing this one's connection pool."""
        clone = object.__new__(AsyncBudClient)
        clone.__dict__.update(self.__dict__)
        clone._owns_transport = False
        if not isinstance(timeout, _Unset):
            clone._timeout = Timeout.of(timeout)
        if max_retries is not None:
            clone._policy = attrs.evolve(self._policy, max_retries=max_retries)
        clone._attach_resources()
        return clone

    def connection_stats(self) -> dict[str, int]:
        """Sockets in the pool right now: ``{"in_use": n, "idle": m}``."""
        return self._transport.connection_stats()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> AsyncBudClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; a no-op on `with_options` copies and on a closed client."""
        if self._owns_transport:
            await self._transport.aclose()

    def __del__(self) -> None:
        if getattr(self, "_owns_transport", False) and self._transport.has_open_session:
            warnings.warn(
                f"unclosed AsyncBudClient for {self._base_url}: use `async with AsyncBudClient()` "
                "or `await client.aclose()`",
                ResourceWarning,
                source=self,
                stacklevel=2,
            )

    def __repr__(self) -> str:
        return f"AsyncBudClient(base_url={self._base_url!r}, max_retries={self.max_retries})"

    # ------------------------------------------------------------------ the one request loop

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Query | None = None,
        json_body: Any = UNSET,
        timeout: TimeoutLike | _Unset = UNSET,  # noqa: ASYNC109 - per-attempt HTTP timeouts
        max_retries: int | None = None,
        idempotency_key: str | None = None,
        missing_ok_after_retry: bool = False,
    ) -> Any:
        """Send `method path` with retries and return the decoded JSON answer (None when empty).

        Retries connection errors, 408, 429 and 5xx with exponential full-jitter backoff, honouring
        Retry-After. With `missing_ok_after_retry`, a 404 that follows an attempt whose answer was
        lost counts as success (a retried DELETE whose first attempt did the work).
        Raises APIConnectionError / APITimeoutError / the APIStatusError subclass for the status.
        """
        url = self._base_url + path
        headers: dict[str, str] | None = None
        body: bytes | None = None
        if not isinstance(json_body, _Unset):
            body = encode_json(json_body)
            headers = {"Content-Type": "application/json"}
        if method in _KEYED_METHODS:
            headers = headers if headers is not None else {}
            headers["Idempotency-Key"] = idempotency_key or new_idempotency_key()
        call_timeout = self._timeout if isinstance(timeout, _Unset) else Timeout.of(timeout)
        policy = self._policy if max_retries is None else attrs.evolve(self._policy, max_retries=max_retries)
        lost_answer = False
        transport = self._transport

        async def attempt() -> Any:
            nonlocal lost_answer
            try:
                raw = await transport.send(
                    method, url, params=params, headers=headers, body=body, timeout=call_timeout
                )
            except APIConnectionError:
                lost_answer = True
                raise
            if 200 <= raw.status < 300:
                return decode_body(raw.body)
            error = error_from_response(
                raw.status, raw.headers, raw.body, now=datetime.now(UTC), context=f"{method} {path}"
            )
            if missing_ok_after_retry and lost_answer and isinstance(error, NotFoundError):
                return None
            raise error

        if policy.max_retries == 0:
            return await attempt()
        return await _retrying(policy)(attempt, method, path)


Attempt = Callable[[], Awaitable[Any]]


async def _call(attempt: Attempt, _method: str, _path: str) -> Any:
    """Run one attempt; method and path ride along so the retry log can name the call."""
    return await attempt()


@functools.lru_cache(maxsize=64)
def _retrying(policy: RetryPolicy) -> Callable[[Attempt, str, str], Awaitable[Any]]:
    """`_call` wrapped in backoff's retry loop for `policy`, built once per policy (not per call).

    Exponential full-jitter waits (or the server's Retry-After) come from `wait_generator`; the
    give-up test is the pure `should_retry`; backoff's own logging is off in favour of ours.
    """
    retrying: Callable[[Attempt, str, str], Awaitable[Any]] = backoff.on_exception(
        functools.partial(wait_generator, policy),
        (APIConnectionError, APIStatusError),
        max_tries=policy.max_retries + 1,
        giveup=functools.partial(_give_up, policy),
        jitter=None,
        logger=None,
        on_backoff=_log_retry,
    )(_call)
    return retrying


def _give_up(policy: RetryPolicy, error: BaseException) -> bool:
    return not should_retry(error, policy=policy, now=datetime.now(UTC))


def _log_retry(details: Any) -> None:
    _attempt, method, path = details["args"]
    _log.info(
        "retrying %s %s in %.2fs after attempt %d failed: %s",
        method,
        path,
        details.get("wait", 0.0),
        details.get("tries", 0),
        details.get("exception"),
    )
