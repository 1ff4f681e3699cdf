"""The websocket `GET .../logs/stream`, spoken raw: backlog, live, heartbeat, end, lag, drops, shutdown."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from logs_support import FAST, Driver, eventually, with_log_settings

from budai_async.models import ExecutionStatus
from budai_server.app import create_app
from budai_server.config import ServerConfig
from budai_server.logs.bus import Subscription

Client = TestClient[Any, Any]
WS = aiohttp.ClientWebSocketResponse


@attrs.define
class Transcript:
    """Everything one connection delivered."""

    seqs: list[int] = attrs.field(factory=list)
    items: list[dict[str, Any]] = attrs.field(factory=list)
    frames: list[dict[str, Any]] = attrs.field(factory=list)
    close_code: int | None = None

    @property
    def end(self) -> dict[str, Any] | None:
        return next((frame for frame in self.frames if frame["type"] == "end"), None)

    @property
    def heartbeats(self) -> int:
        return sum(1 for frame in self.frames if frame["type"] == "heartbeat")


async def read_all(ws: WS, *, stop_after_heartbeats: int | None = None) -> Transcript:
    transcript = Transcript()
    async with asyncio.timeout(30):
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                break
            frame = json.loads(message.data)
            transcript.frames.append(frame)
            if frame["type"] == "lines":
                transcript.items.extend(frame["items"])
                transcript.seqs.extend(item["seq"] for item in frame["items"])
            if stop_after_heartbeats is not None and transcript.heartbeats >= stop_after_heartbeats:
                break
    transcript.close_code = ws.close_code
    return transcript


@pytest.fixture
def server_app(server_app: web.Application) -> web.Application:
    """The real app (tests/conftest.py) with small log-bus settings."""
    return with_log_settings(server_app)


@pytest.fixture
def client(api: Client) -> Client:
    return api


@pytest.fixture
def driver(client: Client) -> Driver:
    return Driver(client.server.app)


def stream_path(execution_id: str) -> str:
    return f"/budpipeline/executions/{execution_id}/logs/stream"


async def test_backlog_then_live_lines_then_one_end_frame(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    driver.emit(execution_id, 120)  # more than one backlog page, partly committed
    await driver.settle()
    driver.emit(execution_id, 30)  # still in memory when the stream starts
    async with client.ws_connect(stream_path(execution_id)) as ws:
        reading = asyncio.create_task(read_all(ws))
        await asyncio.sleep(0.02)
        driver.emit(execution_id, 40)  # live
        await driver.finish(execution_id, ExecutionStatus.FAILED)
        transcript = await reading
    assert transcript.seqs == list(range(1, 192))
    assert transcript.items[-1]["message"] == "execution failed"
    assert transcript.end == {"type": "end", "status": "failed", "last_seq": 191}
    assert transcript.frames[-1]["type"] == "end"
    assert transcript.close_code == 1000
    assert max(len(f["items"]) for f in transcript.frames if f["type"] == "lines") <= FAST.frame_max_lines


async def test_after_seq_and_filters_apply_to_backlog_and_live(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    driver.emit(execution_id, 10, level="debug", step_id="a")
    driver.emit(execution_id, 10, level="error", step_id="b")
    await driver.settle()
    query = {"after_seq": "14", "level": "warning", "step_id": "b"}
    async with client.ws_connect(stream_path(execution_id), params=query) as ws:
        reading = asyncio.create_task(read_all(ws))
        await asyncio.sleep(0.02)
        driver.emit(execution_id, 3, level="error", step_id="a")  # wrong step
        driver.emit(execution_id, 3, level="info", step_id="b")  # below the level
        driver.emit(execution_id, 2, level="warning", step_id="b")
        await driver.finish(execution_id)
        transcript = await reading
    assert transcript.seqs == [15, 16, 17, 18, 19, 20, 27, 28]
    assert transcript.end is not None and transcript.end["status"] == "completed"


async def test_an_ended_execution_streams_its_backlog_and_ends(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    driver.emit(execution_id, 5)
    await driver.finish(execution_id, ExecutionStatus.CANCELLED)
    await driver.settle()
    async with client.ws_connect(stream_path(execution_id)) as ws:
        transcript = await read_all(ws)
    assert transcript.seqs == [1, 2, 3, 4, 5, 6]
    assert transcript.end == {"type": "end", "status": "cancelled", "last_seq": 6}


async def test_an_execution_from_an_earlier_server_life_ends_from_its_stored_status(
    client: Client, driver: Driver
) -> None:
    """No close_execution ever comes for it here: the stored terminal status is enough."""
    execution_id = await driver.create(status=ExecutionStatus.TIMEOUT)
    async with client.ws_connect(stream_path(execution_id)) as ws:
        transcript = await read_all(ws)
    assert transcript.seqs == []
    assert transcript.end == {"type": "end", "status": "timeout", "last_seq": 0}


async def test_idle_streams_get_heartbeats(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    async with client.ws_connect(stream_path(execution_id)) as ws:
        transcript = await read_all(ws, stop_after_heartbeats=2)
    assert transcript.frames[:2] == [{"type": "heartbeat", "last_seq": 0}] * 2


async def test_a_terminal_status_without_close_ends_the_stream_after_a_heartbeat_of_grace(
    client: Client, driver: Driver
) -> None:
    """If the scheduler's close never arrives, the stream still ends once the store says terminal."""
    execution_id = await driver.create()
    driver.emit(execution_id, 3)
    async with client.ws_connect(stream_path(execution_id)) as ws:
        reading = asyncio.create_task(read_all(ws))
        await asyncio.sleep(0.02)
        execution = await driver.store.get_execution(execution_id)
        assert execution is not None
        await driver.store.save_execution(attrs.evolve(execution, status=ExecutionStatus.COMPLETED))
        transcript = await reading
    assert transcript.seqs == [1, 2, 3]
    assert transcript.end is not None and transcript.end["status"] == "completed"
    assert transcript.heartbeats >= 2


async def test_unknown_execution_refuses_the_handshake_with_404(client: Client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
        await client.ws_connect(stream_path("exec_nope"))
    assert raised.value.status == 404


async def test_bad_parameters_refuse_the_handshake_with_422(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    response = await client.get(
        stream_path(execution_id),
        params={"since": "soon"},
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 422
    body = await response.json()
    assert [d["path"] for d in body["error"]["details"]] == ["since"]


async def test_a_plain_get_on_the_stream_route_is_a_json_400(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    response = await client.get(stream_path(execution_id))
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "websocket_required"


def _subscription(driver: Driver, execution_id: str) -> Subscription:
    [subscription] = driver.bus._channels[execution_id].subscribers
    return subscription


async def _numbered_at_once(driver: Driver) -> str:
    """A new execution whose lines are published as they are emitted (no seq look-up first)."""
    execution_id = await driver.create()
    driver.bus.begin_new(execution_id)
    return execution_id


async def test_a_subscriber_past_its_buffer_catches_up_without_a_close(
    client: Client, driver: Driver
) -> None:
    """A burst bigger than the subscriber's buffer arrives before the handler can send any of it:
    the buffer is dropped, and the stream reads those lines back from the store and goes on."""
    execution_id = await _numbered_at_once(driver)
    async with client.ws_connect(stream_path(execution_id)) as ws:
        await eventually(lambda: driver.subscribers(execution_id) == 1)
        driver.emit(execution_id, FAST.subscriber_buffer_lines + 1)
        assert _subscription(driver, execution_id).lagging  # it did overflow
        await driver.finish(execution_id)
        transcript = await read_all(ws)
    assert transcript.close_code == 1000
    assert transcript.end is not None
    assert transcript.seqs == list(range(1, FAST.subscriber_buffer_lines + 3))


async def test_lag_during_the_backlog_never_leaves_a_gap(client: Client, driver: Driver) -> None:
    """Overflowing halfway through the stored backlog, the stream must not jump ahead to the memory
    snapshot: it reads on from its cursor, so every line arrives once, in order, with no close."""
    execution_id = await _numbered_at_once(driver)
    driver.emit(execution_id, 5000)  # a hundred backlog pages
    await driver.settle()
    driver.emit(execution_id, 100)  # the memory snapshot of the stream below
    async with client.ws_connect(stream_path(execution_id)) as ws:
        await eventually(lambda: driver.subscribers(execution_id) == 1)
        driver.emit(execution_id, FAST.subscriber_buffer_lines + 1)  # overflow while the backlog runs
        assert _subscription(driver, execution_id).lagging
        await driver.finish(execution_id)
        transcript = await read_all(ws)
    assert transcript.close_code == 1000
    assert transcript.seqs == list(range(1, 5100 + FAST.subscriber_buffer_lines + 3))


async def test_a_slow_but_reading_follower_is_never_closed(client: Client, driver: Driver) -> None:
    """Bursts overflow its buffer again and again while it takes frames slowly: it still gets
    every line once and the `end`, and is never closed for lagging."""
    execution_id = await _numbered_at_once(driver)
    transcript = Transcript()

    async def read_slowly(ws: WS) -> None:
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                break
            frame = json.loads(message.data)
            transcript.frames.append(frame)
            if frame["type"] == "lines":
                transcript.seqs.extend(item["seq"] for item in frame["items"])
            await asyncio.sleep(0.002)  # slow, but reading
        transcript.close_code = ws.close_code

    overflows = 0
    async with client.ws_connect(stream_path(execution_id)) as ws:
        await eventually(lambda: driver.subscribers(execution_id) == 1)
        reader = asyncio.create_task(read_slowly(ws))
        for _ in range(8):
            driver.emit(execution_id, FAST.subscriber_buffer_lines + 100)
            overflows += _subscription(driver, execution_id).lagging
            await asyncio.sleep(0.01)
        await driver.finish(execution_id)
        async with asyncio.timeout(30):
            await reader
    total = 8 * (FAST.subscriber_buffer_lines + 100) + 1
    assert overflows >= 1
    assert transcript.close_code == 1000
    assert transcript.end is not None
    assert transcript.seqs == list(range(1, total + 1))


async def test_a_follower_that_stops_reading_is_closed_with_4008(
    aiohttp_client: Any, server_config: ServerConfig
) -> None:
    """It takes no frame for longer than the send timeout: the server closes it for lagging (the
    4008 queued behind what it already sent), so once it reads again it resumes by seq."""
    app = with_log_settings(create_app(server_config), attrs.evolve(FAST, send_timeout_seconds=0.3))
    client: Client = await aiohttp_client(app)
    driver = Driver(app)
    execution_id = await driver.create()
    rng = random.Random(3)  # random text: permessage-deflate cannot shrink it, the socket fills
    emitted = 0
    async with client.ws_connect(stream_path(execution_id)) as ws:
        await eventually(lambda: driver.subscribers(execution_id) == 1)
        for _ in range(1000):  # bounded: at most about 80 MB of text
            for _ in range(20):
                driver.bus.emit(execution_id, "info", base64.b64encode(rng.randbytes(3_072)).decode())
            emitted += 20
            await asyncio.sleep(0.005)
            if driver.subscribers(execution_id) == 0:
                break
        assert driver.subscribers(execution_id) == 0  # the server let go of the stalled stream
        transcript = await read_all(ws)
    assert transcript.close_code == 4008
    assert transcript.seqs == list(range(1, len(transcript.seqs) + 1))
    assert len(transcript.seqs) < emitted
    await driver.finish(execution_id)
    async with client.ws_connect(
        stream_path(execution_id), params={"after_seq": str(len(transcript.seqs))}
    ) as ws:
        rest = await read_all(ws)
    assert rest.close_code == 1000
    assert transcript.seqs + rest.seqs == list(range(1, emitted + 2))


async def test_the_drop_hook_cuts_the_connection_every_n_lines(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    driver.emit(execution_id, 25)
    await driver.settle()
    async with client.ws_connect(stream_path(execution_id), params={"drop_every": "7"}) as ws:
        first = await read_all(ws)
    assert first.seqs == [1, 2, 3, 4, 5, 6, 7]
    assert first.end is None and first.close_code != 1000
    async with client.ws_connect(
        stream_path(execution_id), params={"drop_every": "7", "after_seq": "7"}
    ) as ws:
        second = await read_all(ws)
    assert second.seqs == list(range(8, 15))


async def test_many_subscribers_each_get_every_line(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    sockets = [await client.ws_connect(stream_path(execution_id)) for _ in range(12)]
    readers = [asyncio.create_task(read_all(ws)) for ws in sockets]
    await asyncio.sleep(0.05)
    for _ in range(10):
        driver.emit(execution_id, 30)
        await asyncio.sleep(0.005)
    await driver.finish(execution_id)
    transcripts = await asyncio.gather(*readers)
    for ws in sockets:
        await ws.close()
    for transcript in transcripts:
        assert transcript.seqs == list(range(1, 302))
        assert transcript.end is not None


async def test_server_shutdown_closes_streams_with_1001(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    async with client.ws_connect(stream_path(execution_id)) as ws:
        reading = asyncio.create_task(read_all(ws))
        await asyncio.sleep(0.02)
        await client.server.app.shutdown()
        transcript = await reading
    assert transcript.close_code == 1001


async def test_the_stream_takes_the_same_bearer_key_as_the_rest_of_the_api(
    aiohttp_client: Any, make_bud_server: Any
) -> None:
    server = await make_bud_server(api_key="s3cret")
    secured: Client = await aiohttp_client(server)
    driver = Driver(server.app)
    execution_id = await driver.create()
    await driver.finish(execution_id)
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
            await secured.ws_connect(stream_path(execution_id), headers=headers)
        assert raised.value.status == 401
    async with secured.ws_connect(
        stream_path(execution_id), headers={"Authorization": "Bearer s3cret"}
    ) as ws:
        transcript = await read_all(ws)
    assert transcript.seqs == [1] and transcript.end is not None
