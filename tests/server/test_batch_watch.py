"""The status subscription spoken raw: the watch websocket and the executions long-poll."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from api_support import create_pipeline, json_of, step, wait_done

from budai_server.config import ServerConfig
from budai_server.routes.watch import HUB

Client = TestClient[web.Request, web.Application]
WS = aiohttp.ClientWebSocketResponse

DELAY: dict[str, Any] = {"steps": [step("wait", "delay", seconds="{{ params.seconds }}")]}


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    return attrs.evolve(server_config, max_concurrent_executions=32)


async def _start(
    api: Client, pipeline_id: str, seconds: list[float], tags: list[str] | None = None
) -> list[str]:
    body: dict[str, Any] = {"items": [{"params": {"seconds": s}} for s in seconds]}
    if tags:
        body["defaults"] = {"tags": tags}
    answer = await json_of(api, "POST", f"/budpipeline/{pipeline_id}/execute/batch", json=body, expect=200)
    return [item["execution"]["id"] for item in answer["items"]]


async def _frames_until(
    ws: WS, count: int, seconds: float = 10.0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read frames until `count` executions arrived; returns (executions, other frames)."""
    executions: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    async with asyncio.timeout(seconds):
        while len(executions) < count:
            frame = await ws.receive_json()
            if frame["type"] == "executions":
                executions.extend(frame["items"])
            else:
                others.append(frame)
    return executions, others


async def test_sends_already_ended_and_later_ended_once_each(api: Client) -> None:
    pipeline = await create_pipeline(api, DELAY)
    early = await _start(api, pipeline["id"], [0.0, 0.0])
    for execution_id in early:
        await wait_done(api, execution_id)
    late = await _start(api, pipeline["id"], [0.3, 0.1])
    async with api.ws_connect("/budpipeline/executions/watch", params={"ids": ",".join(early)}) as ws:
        await ws.send_json({"type": "subscribe", "ids": [*late, "exec_unknown", early[0]]})
        executions, others = await _frames_until(ws, 4)
        ids = [e["id"] for e in executions]
        assert sorted(ids) == sorted(early + late) and len(set(ids)) == 4
        assert ids.index(late[1]) < ids.index(late[0])  # the shorter delay ends first, and is sent first
        assert all(e["status"] == "completed" for e in executions)
        subscribed = [f for f in others if f["type"] == "subscribed"]
        assert {"type": "subscribed", "ids": 2, "unknown": []} in subscribed  # from the query
        assert {"type": "subscribed", "ids": 4, "unknown": ["exec_unknown"]} in subscribed  # from the frame
        with pytest.raises(TimeoutError):  # nothing is sent twice
            async with asyncio.timeout(0.3):
                frame = await ws.receive_json()
                while frame["type"] != "executions":
                    frame = await ws.receive_json()


async def test_no_race_between_subscribe_and_end(api: Client, server_app: web.Application) -> None:
    """Executions ending while the subscription is being set up still arrive exactly once."""
    pipeline = await create_pipeline(api, DELAY)
    for _ in range(3):
        ids = await _start(api, pipeline["id"], [0.0] * 50)
        async with api.ws_connect("/budpipeline/executions/watch") as ws:
            await ws.send_json({"type": "subscribe", "ids": ids})
            executions, _ = await _frames_until(ws, 50)
            assert sorted(e["id"] for e in executions) == sorted(ids)
    assert len(server_app[HUB]) == 0  # watches are dropped with their sockets


async def test_filter_watch_by_tag_with_backlog(api: Client) -> None:
    pipeline = await create_pipeline(api, DELAY)
    since = datetime.now(UTC).isoformat()
    done = await _start(api, pipeline["id"], [0.0], tags=["batch-7"])
    await wait_done(api, done[0])
    await _start(api, pipeline["id"], [0.0], tags=["other"])
    params = {"tag": "batch-7", "pipeline_id": pipeline["id"], "since": since}
    async with api.ws_connect("/budpipeline/executions/watch", params=params) as ws:
        live = await _start(api, pipeline["id"], [0.05], tags=["batch-7", "extra"])
        executions, _ = await _frames_until(ws, 2)
        assert sorted(e["id"] for e in executions) == sorted(done + live)


async def test_heartbeats_while_idle(api: Client) -> None:
    async with api.ws_connect("/budpipeline/executions/watch", params={"heartbeat": "0.05"}) as ws:
        frame = await asyncio.wait_for(ws.receive_json(), 2)
        assert frame == {"type": "heartbeat", "awaiting": 0, "sent": 0}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid_json"),
        ('{"type": "listen"}', "invalid_frame"),
        ('{"type": "subscribe", "ids": []}', "validation_error"),
        ('{"type": "subscribe", "ids": [1]}', "validation_error"),
    ],
)
async def test_bad_frames_get_an_error_frame_and_the_socket_stays(api: Client, frame: str, code: str) -> None:
    pipeline = await create_pipeline(api, DELAY)
    ids = await _start(api, pipeline["id"], [0.0])
    async with api.ws_connect("/budpipeline/executions/watch") as ws:
        await ws.send_str(frame)
        answer = await asyncio.wait_for(ws.receive_json(), 2)
        assert answer["type"] == "error" and answer["error"]["code"] == code
        await ws.send_json({"type": "subscribe", "ids": ids})
        executions, _ = await _frames_until(ws, 1)
        assert executions[0]["id"] == ids[0]


async def test_unsubscribe_stops_delivery(api: Client) -> None:
    pipeline = await create_pipeline(api, DELAY)
    ids = await _start(api, pipeline["id"], [0.2, 0.0])
    async with api.ws_connect("/budpipeline/executions/watch") as ws:
        await ws.send_json({"type": "subscribe", "ids": ids})
        await ws.send_json({"type": "unsubscribe", "ids": [ids[0]]})
        executions, _ = await _frames_until(ws, 1)
        assert executions[0]["id"] == ids[1]
        await wait_done(api, ids[0])
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                while (await ws.receive_json())["type"] != "executions":
                    pass


@pytest.mark.parametrize(
    ("query", "field"),
    [({"since": "2024-01-01"}, "since"), ({"ids": ",".join(f"e{i}" for i in range(1001))}, "ids")],
)
async def test_bad_query_is_422_before_upgrade(api: Client, query: dict[str, str], field: str) -> None:
    answer = await json_of(api, "GET", "/budpipeline/executions/watch", params=query, expect=422)
    assert answer["error"]["details"][0]["path"] == field


async def test_plain_get_without_upgrade_is_400(api: Client) -> None:
    answer = await json_of(api, "GET", "/budpipeline/executions/watch", expect=400)
    assert answer["error"]["code"] == "websocket_required"


async def test_shutdown_closes_watches_with_1001(api: Client, server_app: web.Application) -> None:
    async with api.ws_connect("/budpipeline/executions/watch") as ws:
        reading = asyncio.create_task(ws.receive())
        await asyncio.sleep(0.02)
        await server_app.shutdown()
        message = await asyncio.wait_for(reading, 5)
        assert message.type is WSMsgType.CLOSE
        assert message.data == 1001


# ------------------------------------------------------------------------------------------ long-poll


async def test_wait_returns_as_soon_as_one_ends(api: Client) -> None:
    pipeline = await create_pipeline(api, DELAY)
    ids = await _start(api, pipeline["id"], [0.1, 5.0])
    started = time.monotonic()
    answer = await json_of(
        api,
        "POST",
        "/budpipeline/executions/wait",
        json={"ids": [*ids, "exec_nope"], "timeout": 8},
        expect=200,
    )
    assert time.monotonic() - started < 4
    assert [e["id"] for e in answer["items"]] == [ids[0]]
    assert answer["pending"] == [ids[1]]
    assert answer["unknown"] == ["exec_nope"]


async def test_wait_answers_at_once_when_some_already_ended_and_times_out_otherwise(api: Client) -> None:
    pipeline = await create_pipeline(api, DELAY)
    ids = await _start(api, pipeline["id"], [0.0, 0.0, 5.0])
    for execution_id in ids[:2]:
        await wait_done(api, execution_id)
    answer = await json_of(
        api, "POST", "/budpipeline/executions/wait", json={"ids": ids, "timeout": 5}, expect=200
    )
    assert sorted(e["id"] for e in answer["items"]) == sorted(ids[:2])
    started = time.monotonic()
    answer = await json_of(
        api, "POST", "/budpipeline/executions/wait", json={"ids": ids[2:], "timeout": 0.2}, expect=200
    )
    assert answer == {"items": [], "pending": ids[2:], "unknown": []}
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"ids": []}, 422, "ids"),
        ({"ids": "e1"}, 422, "ids"),
        ({"ids": ["e1", 5]}, 422, "ids[1]"),
        ({"ids": ["e1"], "timeout": -1}, 422, "timeout"),
        ({"ids": ["e1"], "timeout": "soon"}, 422, "timeout"),
        ({"ids": ["e1"], "extra": 1}, 422, "extra"),
        ({"ids": [f"e{i}" for i in range(1001)]}, 413, "ids"),
    ],
)
async def test_wait_validates_its_body(api: Client, body: Any, status: int, field: str) -> None:
    answer = await json_of(api, "POST", "/budpipeline/executions/wait", json=body, expect=status)
    assert answer["error"]["details"][0]["path"] == field
