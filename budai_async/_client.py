"""`AsyncBudClient`: configuration, the one `request()` with its retry loop, and the resources.

Settings come from arguments, else from `BUDAI_API_KEY` / `BUDAI_BASE_URL` read when the client is
built (never at import). Every POST carries an `Idempotency-Key` made once per logical call and sent
unchanged on each retry, so a create whose answer was lost is not run twice by the server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final

import attrs

from budai_async._http import (
    BaseConnector,
    ClientSession,
    HTTPTransport,
    NetworkOptions,
    Sender,
    Timeout,
    TimeoutLike,
)
from budai_async._network import SSLSetting, env_proxy
from budai_async._raw_views import RawResponses
from budai_async._request_log import RequestLogger, configure_from_env, new_request_id
from budai_async._requester import (
    UNSET,
    Query,
    encode_json,
    idempotency_key_or_new,
    json_default,
    new_idempotency_key,
)
from budai_async._requester import Unset as _Unset
from budai_async._responses import decode_body, error_from_response
from budai_async._retry import RetryPolicy, should_retry, wait_generator
from budai_async._tracing import TracingSender, tracing_active
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
        default_query: Mapping[str, str] | None = None,
        trust_env: bool = True,
        proxy: str | None = None,
        ssl: SSLSetting = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        connector: BaseConnector | None = None,
        http_session: ClientSession | None = None,
    ) -> None:
        """Network settings (docs/sdk.md): `trust_env` honours HTTPS_PROXY/NO_PROXY, `proxy` names
        one; `ssl` is a context or False, `ca_bundle` a PEM file of roots to trust; `connector` and
        `http_session` are yours to pass and close; `default_query` goes on every call.
        """
        self._owns_transport = False  # set first, so __del__ is safe if validation below raises
        configure_from_env()
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
        self._headers = headers
        self._transport = HTTPTransport(
            headers=headers,
            max_connections=max_connections,
            max_connections_per_host=max_connections_per_host,
            keepalive_timeout=keepalive_timeout,
            base_url=self._base_url,
            network=NetworkOptions(
                trust_env=trust_env,
                proxy=proxy,
                ssl=ssl,
                ca_bundle=ca_bundle,
                connector=connector,
                session=http_session,
                default_query=default_query,
            ),
        )
        self._owns_transport = True
        # The websocket streams (log follow, status watch) go through the same proxy as REST calls.
        self._websocket_proxy = proxy or (env_proxy(self._base_url) if trust_env else None)
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
    def websocket_proxy(self) -> str | None:
        """The proxy URL the websocket streams use (from `proxy=` or the environment), or None."""
        return self._websocket_proxy

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

    def __copy__(self) -> AsyncBudClient:
        """``copy.copy(client)``: a client sharing this one's pool that does not close it (`with_options`)."""
        return self.with_options()

    def __deepcopy__(self, memo: dict[int, object]) -> AsyncBudClient:
        """Same as `copy.copy`: a connection pool is shared, never duplicated."""
        return self.with_options()

    @property
    def with_raw_response(self) -> RawResponses:
        """The resources again, answering `APIResponse` (status, headers, request id, parsed model)."""
        return RawResponses(self)

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
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """Send `method path` with retries and return the decoded JSON answer (None when empty).

        `decode` turns a 2xx body into the result instead (the executions resource reads its answers
        straight into `Execution` this way); errors are read the same either way.

        Retries connection errors, 408, 429 and 5xx with exponential full-jitter backoff, honouring
        Retry-After. With `missing_ok_after_retry`, a 404 that follows an attempt whose answer was
        lost counts as success (a retried DELETE whose first attempt did the work).
        Raises APIConnectionError / APITimeoutError / the APIStatusError subclass for the status.
        """
        url = self._base_url + path
        request_id = new_request_id()  # one per logical call, echoed by the server
        headers: dict[str, str] = {"X-Request-ID": request_id}
        body: bytes | None = None
        if not isinstance(json_body, _Unset):
            body = encode_json(json_body)
            headers["Content-Type"] = "application/json"
        if method in _KEYED_METHODS:
            headers["Idempotency-Key"] = idempotency_key_or_new(idempotency_key)
        call_timeout = self._timeout if isinstance(timeout, _Unset) else Timeout.of(timeout)
        transport: Sender = self._transport
        if tracing_active():  # OpenTelemetry spans (budai_async._tracing); off: one dict lookup
            transport = TracingSender(transport, request_id=request_id)
        if _log.isEnabledFor(logging.INFO):  # request logging (budai_async._request_log); off: this check
            transport = RequestLogger(
                transport, method=method, path=path, request_id=request_id, default_headers=self._headers
            )
        call = _Call(transport, method, url, path, params, headers, body, call_timeout, decode or decode_body)
        # Happy path: one attempt and nothing else (no retry frames, no per-call closures).
        try:
            return await call.attempt(missing_ok=False)
        except (APIConnectionError, APIStatusError) as error:
            first = error  # retried below, outside this handler, so later errors do not chain to it
        policy = self._policy if max_retries is None else attrs.evolve(self._policy, max_retries=max_retries)
        if policy.max_retries == 0:
            raise first
        return await _retry(call, first, policy, missing_ok_after_retry=missing_ok_after_retry)


@attrs.define(slots=True)
class _Call:
    """One logical request: what every attempt sends again (same body, same Idempotency-Key)."""

    transport: Sender
    method: str
    url: str
    path: str
    params: Query | None
    headers: dict[str, str] | None
    body: bytes | None
    timeout: Timeout
    decode: Callable[[bytes], Any]

    async def attempt(self, *, missing_ok: bool) -> Any:
        """Send once; the decoded 2xx answer, else raise the error for the status.

        `missing_ok`: an earlier attempt's answer was lost and the caller allows it, so a 404 means
        that attempt did the work (returns None).
        """
        raw = await self.transport.send(
            self.method,
            self.url,
            params=self.params,
            headers=self.headers,
            body=self.body,
            timeout=self.timeout,
        )
        if 200 <= raw.status < 300:
            return self.decode(raw.body)
        error = error_from_response(
            raw.status, raw.headers, raw.body, now=datetime.now(UTC), context=f"{self.method} {self.path}"
        )
        if missing_ok and isinstance(error, NotFoundError):
            return None
        raise error


async def _retry(
    call: _Call,
    error: APIConnectionError | APIStatusError,
    policy: RetryPolicy,
    *,
    missing_ok_after_retry: bool,
) -> Any:
    """The retry loop, entered only after a first failed attempt.

    Retries connection errors, 408, 429 and 5xx (`should_retry`) up to `policy.max_retries` times;
    the pause before each is full-jitter backoff or the server's Retry-After (`wait_generator`).
    """
    waits = wait_generator(policy)
    waits.send(None)  # prime: the generator answers each failed attempt's error with its pause
    lost_answer = isinstance(error, APIConnectionError)
    tries = 1
    while tries <= policy.max_retries and not _give_up(policy, error):
        delay = waits.send(error)
        _log.info(
            "retrying %s %s in %.2fs after attempt %d failed: %s", call.method, call.path, delay, tries, error
        )
        await asyncio.sleep(delay)
        tries += 1
        try:
            return await call.attempt(missing_ok=missing_ok_after_retry and lost_answer)
        except APIConnectionError as exc:
            lost_answer = True
            error = exc
        except APIStatusError as exc:
            error = exc
    raise error


def _give_up(policy: RetryPolicy, error: BaseException) -> bool:
    return not should_retry(error, policy=policy, now=datetime.now(UTC))
