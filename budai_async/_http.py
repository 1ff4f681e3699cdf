"""The HTTP transport: the only client-side module that imports aiohttp.

It owns one `aiohttp.ClientSession` per client, opened lazily inside the running loop, sends one
request and returns status, headers and body bytes. aiohttp's exceptions become ours here
(`APIConnectionError`, `APITimeoutError`), so nothing above this module ever sees an aiohttp type.

Network settings (`NetworkOptions`): the proxy from ``HTTPS_PROXY``/``NO_PROXY`` (or given), TLS
verification or a CA bundle, your own aiohttp connector or session, and query parameters sent on
every call. `with_raw_response` (budai_async._raw) reads the answers through `recording_responses`.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import aiohttp
import attrs

from budai_async import _read_timer as read_timer
from budai_async._network import SSLSetting, env_proxy, netrc_authorization, ssl_setting
from budai_async.errors import APIConnectionError, APITimeoutError, BudError, ValidationError

__all__ = [
    "BaseConnector",
    "ClientSession",
    "HTTPTransport",
    "NetworkOptions",
    "RawResponse",
    "RecordedResponse",
    "Sender",
    "Timeout",
    "TimeoutLike",
    "recording_responses",
]

QueryParams = Sequence[tuple[str, str]]
# aiohttp's types a caller may hand in (`connector=`, `http_session=`), named here so that only this
# module imports aiohttp.
BaseConnector = aiohttp.BaseConnector
ClientSession = aiohttp.ClientSession
_TIMEOUT_CACHE_SIZE = 64
_running_loop = asyncio.get_running_loop


@attrs.frozen(kw_only=True)
class Timeout:
    """HTTP timeouts in seconds; None means no limit.

    `connect` bounds opening a socket, `read` the gap between two reads of the answer, `total` the
    whole attempt including the wait for a free pooled connection. Retries get a fresh budget each.
    """

    connect: float | None = 10.0
    read: float | None = 60.0
    total: float | None = None

    @classmethod
    def of(cls, value: TimeoutLike) -> Timeout:
        """Accept a Timeout, or a number meaning connect, read and total all bounded by it."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(connect=None, read=None, total=None)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError(
                f"timeout must be seconds (a number), a budai_async.Timeout or None, got {value!r}"
            )
        seconds = float(value)
        if not seconds > 0:  # also refuses NaN
            raise ValidationError(f"timeout must be > 0 seconds, got {value!r}")
        return cls(connect=seconds, read=seconds, total=seconds)

    def with_read(self, read: float) -> Timeout:
        """A copy whose read (and total, if set) allow at least `read` seconds, for long-polls."""
        total = None if self.total is None else max(self.total, read + (self.connect or 0.0))
        return attrs.evolve(self, read=max(self.read or 0.0, read), total=total)


TimeoutLike = Timeout | float | int | None


class RawResponse(NamedTuple):
    """What came back: status, headers (case-insensitive mapping) and the body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class RecordedResponse(NamedTuple):
    """One answer seen while `recording_responses` is set, with the request id that was sent."""

    response: RawResponse
    sent_request_id: str | None


# Set (to a fresh list) only by `with_raw_response` around one call; None means nobody listens.
recording_responses: contextvars.ContextVar[list[RecordedResponse] | None] = contextvars.ContextVar(
    "budai_recording_responses", default=None
)


class Sender(Protocol):
    """What the request loop needs of a transport: send one request, get the whole answer."""

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: QueryParams | None,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        timeout: Timeout,  # noqa: ASYNC109 - per-attempt HTTP budget
    ) -> RawResponse: ...


@attrs.frozen(kw_only=True)
class NetworkOptions:
    """How the client reaches the server (see docs/sdk.md, "Network settings").

    `trust_env` reads ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` and ``NO_PROXY`` (and the
    ``.netrc`` use) when the session opens; `proxy` names one explicitly and wins. `ssl` is an
    `ssl.SSLContext`, or False to skip verification; `ca_bundle` a PEM file of roots to trust.
    `connector` / `session` are yours: the client uses them and never closes them.
    `default_query` is added to every call's query string.
    """

    trust_env: bool = True
    proxy: str | None = None
    ssl: SSLSetting = None
    ca_bundle: str | os.PathLike[str] | None = None
    connector: aiohttp.BaseConnector | None = None
    session: aiohttp.ClientSession | None = None
    default_query: Mapping[str, str] | None = None

    def __attrs_post_init__(self) -> None:
        if self.session is not None and self.connector is not None:
            raise ValueError("pass either session= or connector=, not both")
        ssl_setting(self.ssl, self.ca_bundle)  # fail early on a bad combination or a missing file


def _client_timeout(timeout: Timeout) -> aiohttp.ClientTimeout:
    # `sock_connect`, not `connect`: aiohttp's `connect` also counts the wait for a pooled
    # connection, which under heavy concurrency is queueing, not a slow server.
    return aiohttp.ClientTimeout(total=timeout.total, sock_connect=timeout.connect, sock_read=timeout.read)


class HTTPTransport:
    """One pooled aiohttp session, bound to the event loop that first used it.

    Shared by a client and every `with_options` copy; closed by the client that created it.
    """

    def __init__(
        self,
        *,
        headers: Mapping[str, str],
        max_connections: int,
        max_connections_per_host: int,
        keepalive_timeout: float | None,
        base_url: str = "",
        network: NetworkOptions | None = None,
    ) -> None:
        if max_connections < 0 or max_connections_per_host < 0:
            raise ValueError("connection limits must be >= 0 (0 means unlimited)")
        self._network = network = network or NetworkOptions()
        self._base_url = base_url
        self._proxy: str | None = None
        self._default_query = tuple((network.default_query or {}).items())
        self._headers = dict(headers)
        self._max_connections = max_connections
        self._max_connections_per_host = max_connections_per_host
        self._keepalive_timeout = keepalive_timeout
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
        self._last_timeout: Timeout | None = None
        self._last_client_timeout = aiohttp.ClientTimeout(total=None)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def has_open_session(self) -> bool:
        """True when a session was opened and `aclose()` never ran (what `__del__` warns about).

        Our own flag, not `session.closed`: when a leaked client is collected, aiohttp's connector
        may be finalised first and close itself, which would hide the leak.
        """
        return self._session is not None and not self._closed

    def _open(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        network = self._network
        # The proxy is resolved once here (not per request, as aiohttp's trust_env would).
        self._proxy = network.proxy or (env_proxy(self._base_url) if network.trust_env else None)
        if network.session is not None:
            self._session, self._loop = network.session, loop
            return network.session
        keepalive = self._keepalive_timeout
        connector = network.connector
        if connector is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=self._max_connections_per_host,
                keepalive_timeout=keepalive if keepalive else None,
                force_close=not keepalive,
                ssl=ssl_setting(network.ssl, network.ca_bundle),
            )
            read_timer.install(connector, loop)  # a connector of yours keeps aiohttp's own timer
        headers = self._headers
        if network.trust_env and not any(name.lower() == "authorization" for name in headers):
            basic = netrc_authorization(self._base_url)  # an api_key (or your header) wins over .netrc
            headers = headers if basic is None else {**headers, "Authorization": basic}
        session = aiohttp.ClientSession(
            connector=connector,
            connector_owner=network.connector is None,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
            auto_decompress=True,
            # The environment is read here, once: aiohttp's own trust_env would look the proxy and
            # .netrc up in a worker thread on every request (about 0.7 ms of CPU per call).
            trust_env=False,
        )
        if hasattr(session, "_retry_connection"):
            # aiohttp silently resends an idempotent request once when a kept-alive socket turns
            # out closed; our retry loop is the only one, so attempts and max_retries mean what
            # they say (and a DELETE whose answer was lost is seen as such).
            session._retry_connection = False
        self._session = session
        self._loop = loop
        return session

    def _session_for_call(self) -> aiohttp.ClientSession:
        if self._closed:
            raise BudError("this AsyncBudClient is closed; create a new one")
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None:
            return self._open(loop)
        if loop is not self._loop:
            raise BudError(
                "this AsyncBudClient is bound to the event loop it was first used in and cannot be used "
                "from another one; create one client per event loop (for example inside asyncio.run)"
            )
        return session

    def _client_timeout_for(self, timeout: Timeout) -> aiohttp.ClientTimeout:
        client_timeout = self._timeouts.get(timeout)
        if client_timeout is None:
            if len(self._timeouts) >= _TIMEOUT_CACHE_SIZE:  # long-polls make many one-off values
                self._timeouts.clear()
            client_timeout = self._timeouts[timeout] = _client_timeout(timeout)
        self._last_timeout, self._last_client_timeout = timeout, client_timeout
        return client_timeout

    def connection_stats(self) -> dict[str, int]:
        """Open sockets of the pool: `in_use` (carrying a request) and `idle` (kept alive)."""
        session = self._session
        if session is None or session.closed:
            return {"in_use": 0, "idle": 0}
        connector: Any = session.connector
        idle = sum(len(conns) for conns in connector._conns.values())
        return {"in_use": len(connector._acquired), "idle": idle}

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: QueryParams | None,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        timeout: Timeout,  # noqa: ASYNC109 - per-attempt HTTP budget handed to aiohttp, not a wait
    ) -> RawResponse:
        """Send one request and read the whole answer; raises APIConnectionError / APITimeoutError."""
        # Hot path: one loop look-up and plain attribute reads; the slow path opens or refuses.
        session = self._session
        if session is None or self._closed or _running_loop() is not self._loop:
            session = self._session_for_call()
        if self._network.session is not None:  # a session of yours does not carry our headers
            headers = {**self._headers, **(headers or {})}
        if self._default_query:
            params = [*self._default_query, *(params or ())]
        if timeout is self._last_timeout:  # the client's own Timeout object, call after call
            client_timeout = self._last_client_timeout
        else:
            client_timeout = self._client_timeout_for(timeout)
        try:
            async with session.request(
                method,
                url,
                params=params,
                headers=headers,
                data=body,
                timeout=client_timeout,
                proxy=self._proxy,
            ) as response:
                data = await response.read()
                raw = RawResponse(response.status, response.headers, data)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise APITimeoutError(f"{method} {url} timed out ({type(exc).__name__})") from exc
        except aiohttp.InvalidURL as exc:
            raise BudError(f"invalid URL {url!r}: {exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(f"{method} {url} failed: {type(exc).__name__}: {exc}") from exc
        recorder = recording_responses.get()
        if recorder is not None:
            recorder.append(RecordedResponse(raw, (headers or {}).get("X-Request-ID")))
        return raw

    async def aclose(self) -> None:
        """Close the session (idempotent); refuses another loop while the owning loop still runs."""
        session = self._session
        self._closed = True
        if session is None or session.closed or session is self._network.session:
            return  # a session passed in belongs to its owner
        owner = self._loop
        if owner is not None and owner is not asyncio.get_running_loop():
            if not owner.is_closed():
                raise BudError("close this AsyncBudClient from the event loop that used it")
            self._session = None  # its loop is gone: nothing left to await
            return
        await session.close()
