"""The SDK's log reading against the real server on a real port: REST pages and the websocket follower.

The test plays the engine through the app's log bus (tests/server/logs_support.py), so it can emit
thousands of lines and end the execution exactly when it wants.
"""

from __future__ import annotations

import asyncio
import base64
import random
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from budai_async import AsyncBudClient
from budai_async._requester import websocket_headers
from budai_async.errors import APIConnectionError, AuthenticationError, NotFoundError, ValidationError
from budai_async.logs._reader import FollowOptions, LogStream, execution_logs, stream_url
from budai_async.models import ExecutionStatus, LogEntry, LogLevel
from budai_server.app import create_app
from budai_server.config import ServerConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))  # the shared log-app helpers
from logs_support import FAST, Driver, eventually, with_log_settings

QUICK = FollowOptions(reconnect_base_seconds=0.01, reconnect_max_seconds=0.05, give_up_after_seconds=10.0)


@attrs.define
class Served:
    server: TestServer
    driver: Driver
    client: AsyncBudClient

    def stream(self, execution_id: str, *, options: FollowOptions = QUICK, **query: str) -> LogStream:
        """A follower with extra query parameters (the test-only `drop_every`)."""
        return LogStream(
            stream_url(self.client.base_url, execution_id),
            headers=websocket_headers(None),
            query=query,
            options=options,
        )


@pytest.fixture
def server_app(server_app: web.Application) -> web.Application:
    """The real app (tests/conftest.py) with small log-bus settings."""
    return with_log_settings(server_app)


@pytest.fixture
async def served(bud_server: TestServer, bud_url: str) -> AsyncIterator[Served]:
    async with AsyncBudClient(base_url=bud_url, max_retries=0) as client:
        yield Served(bud_server, Driver(bud_server.app), client)


async def emit_slowly(
    driver: Driver, execution_id: str, chunks: int, size: int, *, pause: float = 0.002
) -> None:
    for _ in range(chunks):
        driver.emit(execution_id, size)
        await asyncio.sleep(pause)


async def collect(stream: AsyncIterator[LogEntry]) -> list[LogEntry]:
    async with asyncio.timeout(20):
        return [entry async for entry in stream]


def assert_exactly_once(entries: list[LogEntry], total: int) -> None:
    assert [entry.seq for entry in entries] == list(range(1, total + 1))


# ------------------------------------------------------------------ REST


async def test_awaiting_logs_returns_every_line_across_pages(served: Served) -> None:
    execution_id = await served.driver.create()
    served.driver.emit(execution_id, 2300, step_id="big")
    await served.driver.settle()
    entries = await execution_logs(served.client, execution_id)
    assert_exactly_once(entries, 2300)
    assert isinstance(entries[0], LogEntry) and entries[0].step_id == "big"
    assert entries[0].level == LogLevel.INFO and entries[0].timestamp.tzinfo is not None


async def test_rest_filters(served: Served) -> None:
    execution_id = await served.driver.create()
    served.driver.emit(execution_id, 3, level="debug", step_id="a")
    served.driver.emit(execution_id, 2, level="error", step_id="b")
    await served.driver.settle()
    errors = await execution_logs(served.client, execution_id, level="error")
    assert [e.seq for e in errors] == [4, 5]
    step_a = await execution_logs(served.client, execution_id, step_id="a", since="1h")
    assert [e.seq for e in step_a] == [1, 2, 3]
    assert await execution_logs(served.client, execution_id, since="2099-01-01T00:00:00Z") == []
    assert [e.seq for e in await execution_logs(served.client, execution_id, after_seq=3)] == [4, 5]


async def test_unknown_execution_raises_not_found(served: Served) -> None:
    with pytest.raises(NotFoundError):
        await execution_logs(served.client, "exec_missing")


@pytest.mark.parametrize(("option", "value"), [("level", "loud"), ("since", "yesterday"), ("since", "-1m")])
async def test_bad_filters_raise_before_any_request(served: Served, option: str, value: str) -> None:
    with pytest.raises(ValidationError, match=option if option == "since" else "level"):
        execution_logs(served.client, "exec_x", **{option: value})  # type: ignore[call-overload]


# ------------------------------------------------------------------ follow


async def test_follow_from_start_to_end_yields_every_line_once_and_ends(served: Served) -> None:
    driver = served.driver
    execution_id = await driver.create()
    driver.emit(execution_id, 40)
    await driver.settle()

    async def run_execution() -> None:
        await emit_slowly(driver, execution_id, chunks=20, size=30)
        await driver.finish(execution_id, ExecutionStatus.FAILED)

    async with execution_logs(served.client, execution_id, follow=True, options=QUICK) as stream:
        producer = asyncio.create_task(run_execution())
        entries = await collect(stream)
        await producer
    assert_exactly_once(entries, 40 + 600 + 1)
    assert entries[-1].message == "execution failed"
    assert stream.status == ExecutionStatus.FAILED
    assert stream.last_seq == 641
    assert stream.reconnects == 0


async def test_follow_without_async_with_ends_too(served: Served) -> None:
    execution_id = await served.driver.create()
    served.driver.emit(execution_id, 5)
    await served.driver.finish(execution_id)
    stream = execution_logs(served.client, execution_id, follow=True)
    entries = await collect(stream)
    assert_exactly_once(entries, 6)
    assert stream.status == ExecutionStatus.COMPLETED


async def test_follow_with_filters_and_a_since_pinned_once(served: Served) -> None:
    execution_id = await served.driver.create()
    served.driver.emit(execution_id, 3, level="info", step_id="a")
    async with execution_logs(
        served.client, execution_id, follow=True, level="warning", step_id="b", since="10m", options=QUICK
    ) as stream:
        served.driver.emit(execution_id, 2, level="warning", step_id="b")
        served.driver.emit(execution_id, 2, level="debug", step_id="b")
        served.driver.emit(execution_id, 1, level="error", step_id="b")
        await served.driver.finish(execution_id)
        entries = await collect(stream)
    assert [e.seq for e in entries] == [4, 5, 8]
    assert "since" in stream._query and stream._query["since"].endswith("Z")


async def test_server_dropping_every_n_lines_still_yields_each_line_once(served: Served) -> None:
    driver = served.driver
    execution_id = await driver.create()
    driver.emit(execution_id, 95)
    await driver.settle()

    async def run_execution() -> None:
        await emit_slowly(driver, execution_id, chunks=10, size=21)
        await driver.finish(execution_id)

    producer = asyncio.create_task(run_execution())
    async with served.stream(execution_id, drop_every="13") as stream:
        entries = await collect(stream)
    await producer
    assert_exactly_once(entries, 95 + 210 + 1)
    assert stream.reconnects >= (95 + 210) // 13
    assert stream.status == ExecutionStatus.COMPLETED


async def test_many_followers_at_once(served: Served) -> None:
    driver = served.driver
    execution_id = await driver.create()
    streams = [execution_logs(served.client, execution_id, follow=True, options=QUICK) for _ in range(25)]
    readers = [asyncio.create_task(collect(stream)) for stream in streams]
    await asyncio.sleep(0.05)
    await emit_slowly(driver, execution_id, chunks=40, size=25)
    await driver.finish(execution_id)
    results = await asyncio.gather(*readers)
    for entries in results:
        assert_exactly_once(entries, 1001)
    assert all(stream.status == ExecutionStatus.COMPLETED for stream in streams)


async def test_a_slow_follower_is_dropped_resumes_and_misses_nothing(
    aiohttp_server: Any, server_config: ServerConfig
) -> None:
    """It stops reading; its socket fills and a frame waits past the send timeout; the server drops
    it (4008); it resumes by seq. A follower reading at full speed on the same execution gets every
    line too."""
    settings = attrs.evolve(FAST, subscriber_buffer_lines=100, send_timeout_seconds=0.3)
    app = with_log_settings(create_app(server_config), settings)
    server: TestServer = await aiohttp_server(app)
    client = AsyncBudClient(base_url=str(server.make_url("")).rstrip("/"))
    served = Served(server, Driver(app), client)
    driver = served.driver
    execution_id = await driver.create()
    rng = random.Random(7)  # distinct random lines: permessage-deflate cannot shrink them much
    slow = execution_logs(
        served.client,
        execution_id,
        follow=True,
        options=attrs.evolve(QUICK, buffer_lines=20, receive_buffer_bytes=64 * 1024),
    )
    slow_entries: list[LogEntry] = []
    ended = asyncio.Event()

    async def read_slowly() -> None:
        async with slow:
            await ended.wait()  # read nothing until the server has dropped this stream
            async for entry in slow:
                slow_entries.append(entry)

    slow_reader = asyncio.create_task(read_slowly())
    await eventually(lambda: driver.subscribers(execution_id) == 1)
    [slow_subscription] = driver.bus._channels[execution_id].subscribers
    fast = execution_logs(served.client, execution_id, follow=True, options=QUICK)
    fast_reader = asyncio.create_task(collect(fast))
    await eventually(lambda: driver.subscribers(execution_id) == 2)
    total = 0
    for _ in range(1000):  # bounded: at most about 80 MB of text
        for _ in range(20):
            driver.bus.emit(execution_id, "info", base64.b64encode(rng.randbytes(3_072)).decode())
        total += 20
        await asyncio.sleep(0.005)
        if slow_subscription not in driver.bus._channels[execution_id].subscribers:
            break
    assert slow_subscription not in driver.bus._channels[execution_id].subscribers
    await driver.finish(execution_id)
    ended.set()
    async with asyncio.timeout(60):
        await slow_reader
        fast_entries = await fast_reader
    await client.aclose()
    assert_exactly_once(slow_entries, total + 1)
    assert_exactly_once(fast_entries, total + 1)
    assert slow.reconnects >= 1  # it really was dropped and resumed
    assert slow.lagging_closes >= 1  # ... for lagging (4008)


async def test_follow_unknown_execution_raises_not_found(served: Served) -> None:
    with pytest.raises(NotFoundError):
        async with execution_logs(served.client, "exec_missing", follow=True):
            pass
    with pytest.raises(NotFoundError):
        await collect(execution_logs(served.client, "exec_missing", follow=True))


async def wait_for_subscribers(driver: Driver, execution_id: str, count: int) -> None:
    await eventually(lambda: driver.subscribers(execution_id) == count)


async def test_break_closes_the_socket(served: Served) -> None:
    execution_id = await served.driver.create()
    served.driver.emit(execution_id, 10)
    async with execution_logs(served.client, execution_id, follow=True) as stream:
        async for entry in stream:
            if entry.seq == 3:
                break
    await wait_for_subscribers(served.driver, execution_id, 0)
    assert stream.last_seq == 3


async def test_break_without_async_with_closes_the_socket(served: Served) -> None:
    execution_id = await served.driver.create()
    served.driver.emit(execution_id, 10)
    stream = execution_logs(served.client, execution_id, follow=True)
    async for entry in stream:
        if entry.seq == 2:
            break
    await wait_for_subscribers(served.driver, execution_id, 0)


async def test_cancelling_the_consumer_closes_the_socket(served: Served) -> None:
    execution_id = await served.driver.create()
    stream = execution_logs(served.client, execution_id, follow=True)
    consumer = asyncio.create_task(collect(stream))
    await wait_for_subscribers(served.driver, execution_id, 1)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await wait_for_subscribers(served.driver, execution_id, 0)
    await stream.aclose()  # idempotent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_gives_up_with_a_connection_error_when_nothing_answers() -> None:
    options = FollowOptions(
        reconnect_base_seconds=0.01, reconnect_max_seconds=0.02, give_up_after_seconds=0.2
    )
    async with AsyncBudClient(base_url=f"http://127.0.0.1:{free_port()}") as client:
        stream = execution_logs(client, "exec_x", follow=True, options=options)
        with pytest.raises(APIConnectionError):
            await collect(stream)
    assert stream.reconnects >= 2


async def test_a_closed_stream_cannot_be_iterated_again(served: Served) -> None:
    execution_id = await served.driver.create()
    await served.driver.finish(execution_id)
    stream = execution_logs(served.client, execution_id, follow=True)
    assert len(await collect(stream)) == 1
    with pytest.raises(Exception, match="closed"):
        await collect(stream)


async def test_the_follower_sends_the_clients_api_key(make_bud_server: Any) -> None:
    server = await make_bud_server(api_key="s3cret")
    driver = Driver(server.app)
    execution_id = await driver.create()
    driver.emit(execution_id, 3)
    await driver.finish(execution_id)
    url = str(server.make_url("")).rstrip("/")
    async with AsyncBudClient(base_url=url, api_key="s3cret") as client:
        assert_exactly_once(await collect(execution_logs(client, execution_id, follow=True)), 4)
    async with AsyncBudClient(base_url=url, api_key="wrong", max_retries=0) as client:
        with pytest.raises(AuthenticationError):
            async with execution_logs(client, execution_id, follow=True):
                pass
