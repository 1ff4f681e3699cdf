"""The one way the server sends HTTP out: a guarded `aiohttp.ClientSession` and a bounded `fetch`.

`make_session` builds a session whose every request - also one a custom action makes with
``ctx.http`` directly - passes two checks: a client middleware checks the URL of each request
(scheme, literal addresses, odd IPv4 spellings), and `GuardedResolver` checks every address a host
name resolves to before the connector may use it. The connector connects to the addresses the
resolver returned, so the checked address is the one contacted (no second DNS lookup, so DNS
rebinding cannot swap it).

`fetch` sends one request and follows redirects itself, each hop through the same checks, under
one deadline for the whole chain and a cap on the response size.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDict
from yarl import URL

from budai_server.outbound.policy import OutboundPolicy, OutboundRefused

__all__ = ["GuardedResolver", "OutboundError", "Reply", "fetch", "make_session", "refusal_of"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Headers that carry credentials: not sent on to another origin after a redirect.
_CREDENTIAL_HEADERS = ("Authorization", "Cookie", "Proxy-Authorization")


class OutboundError(Exception):
    """An outbound request failed (timeout, connection, too large, too many redirects).

    `retryable` is False when another attempt cannot help (the answer is too large, the
    redirects loop).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class GuardedResolver(AbstractResolver):
    """Resolves host names and refuses the lookup when any address breaks the policy."""

    def __init__(self, policy: OutboundPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._policy.host_allowed(host):
            for result in results:
                address = ipaddress.ip_address(result["host"])
                self._policy.check_address(f"{host} (resolves to {address})", address)
        return results

    async def close(self) -> None:
        await self._inner.close()


def _url_guard(policy: OutboundPolicy) -> aiohttp.ClientMiddlewareType:
    async def guard(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        policy.check_url(request.url)
        return await handler(request)

    return guard


def make_session(
    policy: OutboundPolicy,
    *,
    limit: int = 100,
    timeout: aiohttp.ClientTimeout | None = None,
    headers: Mapping[str, str] | None = None,
    resolver: AbstractResolver | None = None,
) -> aiohttp.ClientSession:
    """A ClientSession every request of which obeys `policy` (create it inside a running loop).

    Environment proxies are ignored (`trust_env=False`): a proxy would do the DNS lookup itself.
    """
    connector = aiohttp.TCPConnector(limit=limit, resolver=GuardedResolver(policy, resolver))
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout or aiohttp.ClientTimeout(total=None),
        headers=headers,
        middlewares=(_url_guard(policy),),
        trust_env=False,
    )


@attrs.frozen(kw_only=True)
class Reply:
    """A complete, size-bounded answer."""

    status: int
    headers: dict[str, str]
    body: bytes
    content_type: str
    charset: str | None
    url: URL


def refusal_of(exc: BaseException) -> OutboundRefused | None:
    """The policy refusal behind an aiohttp error, if that is what it is."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OutboundRefused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _next_hop(
    status: int, location: str, url: URL, method: str, headers: CIMultiDict[str], payload: dict[str, Any]
) -> tuple[URL, str, dict[str, Any]]:
    """Where a redirect leads and with what: 303 (and 301/302 after POST) turn into a bodiless GET."""
    try:
        target = url.join(URL(location))
    except ValueError:
        raise OutboundError(f"{method} {url} redirected to an invalid location {location!r}") from None
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, payload = "GET", {}
        headers.pop("Content-Type", None)
    if target.origin() != url.origin():
        for name in _CREDENTIAL_HEADERS:
            headers.pop(name, None)
    return target, method, payload


async def _read_bounded(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    if response.content_length is not None and response.content_length > limit:
        raise OutboundError(f"{what} answered more than {limit} bytes", retryable=False)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise OutboundError(f"{what} answered more than {limit} bytes", retryable=False)
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch(
    session: aiohttp.ClientSession,
    method: str,
    url: str | URL,
    *,
    policy: OutboundPolicy,
    timeout_seconds: float,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    data: str | bytes | None = None,
) -> Reply:
    """Send one request through `session`, follow up to `policy.max_redirects` redirects (each hop
    checked again), and read at most `policy.max_response_bytes` - all within `timeout_seconds`.

    Raises `OutboundRefused` (a hop broke the policy) or `OutboundError`.
    """
    current = URL(url) if isinstance(url, str) else url
    policy.check_url(current)
    send_headers: CIMultiDict[str] = CIMultiDict(headers or {})
    payload: dict[str, Any] = (
        {"json": json} if json is not None else {"data": data} if data is not None else {}
    )
    hops = 0
    what = f"{method} {current}"
    try:
        async with asyncio.timeout(timeout_seconds):
            while True:
                async with session.request(
                    method, current, headers=send_headers, allow_redirects=False, **payload
                ) as response:
                    location = response.headers.get("Location")
                    if response.status in _REDIRECTS and location:
                        hops += 1
                        if hops > policy.max_redirects:
                            raise OutboundError(
                                f"{what} redirected more than {policy.max_redirects} times", retryable=False
                            )
                        current, method, payload = _next_hop(
                            response.status, location, current, method, send_headers, payload
                        )
                        continue
                    body = await _read_bounded(response, policy.max_response_bytes, what)
                    return Reply(
                        status=response.status,
                        headers=dict(response.headers),
                        body=body,
                        content_type=response.content_type,
                        charset=response.charset,
                        url=current,
                    )
    except OutboundRefused:
        raise
    except TimeoutError:
        raise OutboundError(f"{what} timed out after {timeout_seconds:g}s") from None
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        refused = refusal_of(exc)
        if refused is not None:
            raise refused from None
        raise OutboundError(f"{what} failed: {type(exc).__name__}: {exc}") from None
