"""The HTTP transport: the only client-side module that imports aiohttp.

It owns one `aiohttp.ClientSession` per client, opened lazily inside the running loop, sends one
request and returns status, headers and body bytes. aiohttp's exceptions become ours here
(`APIConnectionError`, `APITimeoutError`), so nothing above this module ever sees an aiohttp type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import aiohttp
import attrs

from budai_async.errors import APIConnectionError, APITimeoutError, BudError

__all__ = ["HTTPTransport", "RawResponse", "Timeout", "TimeoutLike"]

QueryParams = Sequence[tuple[str, str]]
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
        seconds = float(value)
        if seconds <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {value!r}")
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
    ) -> None:
        if max_connections < 0 or max_connections_per_host < 0:
            raise ValueError("connection limits must be >= 0 (0 means unlimited)")
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
        keepalive = self._keepalive_timeout
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=self._max_connections_per_host,
            keepalive_timeout=keepalive if keepalive else None,
            force_close=not keepalive,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
            auto_decompress=True,
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
        if timeout is self._last_timeout:  # the client's own Timeout object, call after call
            client_timeout = self._last_client_timeout
        else:
            client_timeout = self._client_timeout_for(timeout)
        try:
            async with session.request(
                method, url, params=params, headers=headers, data=body, timeout=client_timeout
            ) as response:
                data = await response.read()
                return RawResponse(response.status, response.headers, data)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise APITimeoutError(f"{method} {url} timed out ({type(exc).__name__})") from exc
        except aiohttp.InvalidURL as exc:
            raise BudError(f"invalid URL {url!r}: {exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(f"{method} {url} failed: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        """Close the session (idempotent); refuses another loop while the owning loop still runs."""
        session = self._session
        self._closed = True
        if session is None or session.closed:
            return
        owner = self._loop
        if owner is not None and owner is not asyncio.get_running_loop():
            if not owner.is_closed():
                raise BudError("close this AsyncBudClient from the event loop that used it")
            self._session = None  # its loop is gone: nothing left to await
            return
        await session.close()
