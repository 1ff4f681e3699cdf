"""Many calls at once: sockets stay within the connector limit, and cancelling in-flight calls
leaves the client usable with its pool released."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer
from sdk_support import ClientFactory, delay_step, eventually, log_step

LIMIT = 20


async def sample_connections(server: TestServer, peak: list[int], stop: asyncio.Event) -> None:
    """Record the most connections the server had open at once (server-side count)."""
    while not stop.is_set():
        peak[0] = max(peak[0], len(server.handler.connections))
        await asyncio.sleep(0.001)


@pytest.mark.slow
async def test_5000_concurrent_calls_stay_within_the_connection_limit(
    bud_server: TestServer, bud_url: str, make_client: ClientFactory
) -> None:
    client = make_client(bud_url, max_connections=LIMIT)
    pipeline = await client.pipelines.create(name="p", definition={"steps": [log_step("a")]})
    execution = await client.executions.create(pipeline.id, wait=True)

    peak, stop = [0], asyncio.Event()
    sampler = asyncio.create_task(sample_connections(bud_server, peak, stop))
    results = await asyncio.gather(*(client.executions.get(execution.id) for _ in range(5000)))
    stop.set()
    await sampler

    assert len(results) == 5000 and {r.id for r in results} == {execution.id}
    assert {r.status for r in results} == {"completed"}
    assert 1 < peak[0] <= LIMIT, peak[0]
    stats = client.connection_stats()
    assert stats["in_use"] == 0 and stats["idle"] <= LIMIT


async def test_cancelling_1000_in_flight_calls_leaves_the_client_usable(
    bud_server: TestServer, bud_url: str, make_client: ClientFactory
) -> None:
    client = make_client(bud_url, max_connections=50)
    pipeline = await client.pipelines.create(name="slow", definition={"steps": [delay_step("d", 30)]})
    running = await client.executions.create(pipeline.id)

    calls = [asyncio.create_task(client.executions.wait(running.id, timeout=20)) for _ in range(1000)]
    await eventually(lambda: client.connection_stats()["in_use"] == 50)  # 950 more wait for a socket
    await asyncio.sleep(0.05)
    assert client.connection_stats()["in_use"] == 50
    assert not any(call.done() for call in calls)
    for call in calls:
        call.cancel()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)

    assert client.connection_stats()["in_use"] == 0  # every socket went back (or was closed)
    assert (await client.executions.get(running.id)).status == "running"
    results = await asyncio.gather(*(client.actions.get("log") for _ in range(100)))
    assert {a.type for a in results} == {"log"}
    cancelled = await client.executions.cancel(running.id)
    assert cancelled.status == "cancelled"
    # the server sees the cancelled long-polls' sockets close
    await eventually(lambda: len(bud_server.handler.connections) <= 50)
