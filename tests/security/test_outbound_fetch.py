"""`fetch` and the guarded session against local listeners: redirects, size cap, credentials, DNS."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from budai_server.outbound import OutboundError, OutboundPolicy, OutboundRefused, fetch, make_session

LOOPBACK = OutboundPolicy(allow_loopback=True, max_redirects=2, max_response_bytes=1000)


async def target(aiohttp_server: Any) -> tuple[TestServer, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append({"path": request.path, "method": request.method, "headers": dict(request.headers)})
        name = request.match_info["name"]
        if name == "loop":
            raise web.HTTPFound("/loop")
        if name == "see-other":
            raise web.HTTPSeeOther("/end")
        if name == "keep":
            raise web.HTTPTemporaryRedirect("/end")
        if name == "elsewhere":
            raise web.HTTPFound(request.query["to"])
        if name == "big":
            response = web.StreamResponse()
            await response.prepare(request)
            for _ in range(5):
                await response.write(b"x" * 400)
            return response
        return web.json_response({"path": request.path, "body": await request.text()})

    app = web.Application()
    app.router.add_route("*", "/{name}", handle)
    server: TestServer = await aiohttp_server(app)
    return server, seen


async def test_redirects_are_followed_with_the_right_method_and_capped(aiohttp_server: Any) -> None:
    server, seen = await target(aiohttp_server)
    async with make_session(LOOPBACK) as session:
        reply = await fetch(
            session, "POST", server.make_url("/see-other"), policy=LOOPBACK, timeout_seconds=5, json={"a": 1}
        )
        assert (reply.status, reply.url.path) == (200, "/end")
        assert [(hit["method"], hit["path"]) for hit in seen] == [("POST", "/see-other"), ("GET", "/end")]
        seen.clear()
        reply = await fetch(
            session, "PUT", server.make_url("/keep"), policy=LOOPBACK, timeout_seconds=5, data="b"
        )
        assert [(hit["method"], hit["path"]) for hit in seen] == [("PUT", "/keep"), ("PUT", "/end")]
        assert reply.body == b'{"path": "/end", "body": "b"}'
        with pytest.raises(OutboundError, match="redirected more than 2 times") as caught:
            await fetch(session, "GET", server.make_url("/loop"), policy=LOOPBACK, timeout_seconds=5)
        assert caught.value.retryable is False


async def test_the_answer_size_is_capped_while_streaming(aiohttp_server: Any) -> None:
    server, _seen = await target(aiohttp_server)
    async with make_session(LOOPBACK) as session:
        with pytest.raises(OutboundError, match="answered more than 1000 bytes"):
            await fetch(session, "GET", server.make_url("/big"), policy=LOOPBACK, timeout_seconds=5)


async def test_credentials_are_not_carried_to_another_origin(aiohttp_server: Any) -> None:
    first, seen_first = await target(aiohttp_server)
    second, seen_second = await target(aiohttp_server)
    async with make_session(LOOPBACK) as session:
        url = first.make_url("/elsewhere").with_query(to=str(second.make_url("/end")))
        await fetch(
            session,
            "GET",
            url,
            policy=LOOPBACK,
            timeout_seconds=5,
            headers={"Authorization": "Bearer s3cret", "X-Trace": "t"},
        )
    assert seen_first[0]["headers"]["Authorization"] == "Bearer s3cret"
    assert "Authorization" not in seen_second[0]["headers"]
    assert seen_second[0]["headers"]["X-Trace"] == "t"


class LoopbackDNS(AbstractResolver):
    """A DNS server an attacker controls, answering loopback for their name."""

    def __init__(self) -> None:
        self.calls = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls += 1
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        return None


async def test_a_name_resolving_to_a_forbidden_address_is_refused_before_connecting(
    aiohttp_server: Any,
) -> None:
    server, seen = await target(aiohttp_server)
    strict = OutboundPolicy()
    resolver = LoopbackDNS()
    async with make_session(strict, resolver=resolver) as session:
        with pytest.raises(OutboundRefused, match=r"rebind\.example \(resolves to 127\.0\.0\.1\)") as caught:
            await fetch(
                session, "GET", f"http://rebind.example:{server.port}/x", policy=strict, timeout_seconds=5
            )
        assert (caught.value.rule, resolver.calls) == ("loopback", 1)
        # The same session used directly (as a custom action might) is guarded too.
        with pytest.raises(OutboundRefused):
            await session.get(f"http://rebind.example:{server.port}/x")
        with pytest.raises(OutboundRefused, match="rule: loopback"):
            await session.get(server.make_url("/x"))
    assert seen == []
