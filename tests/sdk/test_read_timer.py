"""The read timeout on one lazily moved timer per connection (budai_async/_read_timer.py).

`Timeout.read` bounds the gap between two reads, as aiohttp's ``sock_read`` does; these tests hold
the lazy timer to that: a slow body whose gaps stay under the limit is read whole, a stall past it
times out when it should, a connection idle in the pool past the limit stays usable, and a shorter
timeout after a longer one on the same connection is not held back by the armed timer. The body
that pauses mid-way comes from a small aiohttp app here, since the BudAI API never dribbles a
JSON answer; the pooled-connection tests use the real server.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.client_proto import ResponseHandler
from sdk_support import ClientFactory, delay_step

from budai_async import AsyncBudClient, Timeout
from budai_async import _read_timer as read_timer
from budai_async.errors import APITimeoutError

PIECES = 6


def dripping_app() -> web.Application:
    """``GET /drip?gap=S`` answers a JSON object in `PIECES` chunks, `gap` seconds apart."""

    async def drip(request: web.Request) -> web.StreamResponse:
        gap = float(request.query["gap"])
        body = json.dumps({"pieces": ["x" * 100] * PIECES}).encode()
        size = len(body) // PIECES + 1
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        for start in range(0, len(body), size):
            await response.write(body[start : start + size])
            await asyncio.sleep(gap)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/drip", drip)
    return app


@pytest.fixture
async def drip_url(aiohttp_server: Any) -> str:
    server = await aiohttp_server(dripping_app())
    return str(server.make_url("")).rstrip("/")


def protocols(client: AsyncBudClient) -> list[Any]:
    """The response protocols of the client's pooled (idle) connections."""
    connector: Any = client._transport._session.connector  # type: ignore[union-attr]
    return [proto for conns in connector._conns.values() for proto, _ in conns]


async def test_the_sdk_connector_uses_the_lazy_timer(bud_url: str, make_client: ClientFactory) -> None:
    """Fails when a new aiohttp drops the private hook: the SDK would fall back to the stock timer."""
    client = make_client(bud_url)
    await client.pipelines.list()
    pooled = protocols(client)
    assert pooled and all(type(proto) is read_timer.LazyReadTimeoutHandler for proto in pooled)


async def test_a_connector_of_yours_keeps_aiohttp_s_own_timer(bud_url: str) -> None:
    connector = aiohttp.TCPConnector()
    try:
        async with AsyncBudClient(base_url=bud_url, connector=connector) as client:
            await client.pipelines.list()
            pooled = protocols(client)
            assert pooled and all(type(proto) is ResponseHandler for proto in pooled)
    finally:
        await connector.close()


async def test_gaps_under_the_limit_read_the_whole_body(drip_url: str, make_client: ClientFactory) -> None:
    """Six gaps of 0.15 s (0.9 s in all) under a 0.5 s read timeout: each read moves the deadline."""
    client = make_client(drip_url, max_retries=0, timeout=Timeout(read=0.5))
    answer = await client.request("GET", "/drip", params=[("gap", "0.15")])
    assert answer == {"pieces": ["x" * 100] * PIECES}


async def test_a_stall_past_the_limit_times_out_on_time(drip_url: str, make_client: ClientFactory) -> None:
    client = make_client(drip_url, max_retries=0, timeout=Timeout(read=0.3))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(APITimeoutError):
        await client.request("GET", "/drip", params=[("gap", "2")])
    assert 0.3 <= loop.time() - started < 1.5  # after the first chunk's 0.3 s gap, not the 2 s stall


async def test_an_idle_pooled_connection_outlives_its_read_timeout(
    bud_url: str, make_client: ClientFactory
) -> None:
    """The timer armed by the last answer fires while the connection is idle, finds no read under
    way and lapses; the connection is reused afterwards, its timer re-armed."""
    client = make_client(bud_url, max_retries=0, timeout=Timeout(read=0.2))
    await client.pipelines.list()
    (proto,) = protocols(client)
    await asyncio.sleep(0.5)
    assert proto._read_timeout_handle is None and proto.is_connected()
    await client.pipelines.list()
    assert protocols(client) == [proto]


async def test_a_shorter_timeout_after_a_longer_one_is_not_held_back(
    bud_url: str, make_client: ClientFactory
) -> None:
    """A call with the default 60 s leaves a timer armed 60 s out on the connection; the next call,
    with 0.2 s, must time out at 0.2 s, not when that timer fires."""
    client = make_client(bud_url, max_retries=0)
    pipeline = await client.pipelines.create(name="slow", definition={"steps": [delay_step("d", 30)]})
    execution = await client.executions.create(pipeline.id)
    path = f"/budpipeline/executions/{execution.id}"
    await client.request("GET", path)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(APITimeoutError):
        await client.request("GET", path, params=[("wait", "5")], timeout=Timeout(read=0.2))
    assert loop.time() - started < 2
