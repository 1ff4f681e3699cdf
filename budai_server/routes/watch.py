"""Awaiting many executions without one poller each: a websocket subscription and a long-poll.

`GET /budpipeline/executions/watch` (websocket) takes `ids`, `pipeline_id`, `tag` and `since` in the
query and `{"type": "subscribe"|"unsubscribe", "ids": [...]}` frames later; it sends every matching
execution once, when terminal, in `{"type": "executions", "items": [...]}` frames, including those
already terminal when subscribed. `POST /budpipeline/executions/wait` `{ids, timeout}` returns as soon
as any of the ids is terminal (or at the timeout) with `{items, pending, unknown}`. docs/batch.md has
the protocol; `budai_server.logs.watch_hub` has the once-only rule that makes both race-free.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from budai_async._convert import to_json_dict
from budai_async.models import TERMINAL_STATUSES, Execution
from budai_server.appkeys import SCHEDULER
from budai_server.listing import ExecutionQuery, decode_cursor
from budai_server.logs.watch_hub import Watch, WatchHub
from budai_server.nesting import exceeds_depth
from budai_server.routes.context import config_of, store_of
from budai_server.routes.errors import ApiError, dump_json, json_response
from budai_server.routes.parse import Fields, QueryFields, issue, over_limit, read_json_object
from budai_server.store.batch_writes import get_executions, get_statuses
from budai_server.store.database import Store, db_time

__all__ = ["HUB", "MAX_IDS_PER_MESSAGE", "MAX_IDS_PER_WATCH", "WATCH_SOCKETS", "setup"]

log = logging.getLogger(__name__)

MAX_IDS_PER_MESSAGE = 1000
MAX_IDS_PER_WATCH = 100_000
# A subscribe frame is one object holding one array of ids.
MAX_FRAME_DEPTH = 2
FRAME_MAX_ITEMS = 200
FRAME_LINGER = 0.005
DEFAULT_HEARTBEAT = 15.0
DEFAULT_WAIT = 30.0
SEND_TIMEOUT = 30.0
CLOSE_GOING_AWAY = 1001
CLOSE_LAGGING = 4008
_TERMINAL = tuple(str(status) for status in TERMINAL_STATUSES)

HUB: web.AppKey[WatchHub] = web.AppKey("budai_watch_hub", WatchHub)
WATCH_SOCKETS = web.AppKey("budai_watch_sockets", set[web.WebSocketResponse])


def _hub(request: web.Request) -> WatchHub:
    return request.app[HUB]


def _check_ids(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ApiError.invalid([issue(field, "must be a non-empty array of execution ids")])
    if len(value) > MAX_IDS_PER_MESSAGE:
        raise ApiError(
            413,
            f"at most {MAX_IDS_PER_MESSAGE} ids per request, got {len(value)}",
            code="too_many_ids",
            details=[issue(field, f"at most {MAX_IDS_PER_MESSAGE} ids", "too_many")],
        )
    for position, item in enumerate(value):
        if not isinstance(item, str) or not item or len(item) > 200:
            raise ApiError.invalid([issue(f"{field}[{position}]", "an id must be a non-empty string")])
    return list(dict.fromkeys(value))


async def _subscribe_ids(store: Store, watch: Watch, ids: Sequence[str]) -> list[str]:
    """Add ids to a watch, then offer those already terminal; returns the unknown ids.

    The watch is registered before the read, so an execution ending in between reaches it through
    the hub or through the read, and `Watch.offer` hands it over once either way.
    """
    watch.add_ids(ids)
    statuses = await get_statuses(store, ids)
    unknown = [execution_id for execution_id in ids if execution_id not in statuses]
    watch.discard_ids(unknown)
    ended = [i for i, status in statuses.items() if status in _TERMINAL and i not in watch.delivered]
    if ended:  # only these are read whole: a fresh batch's ids cost one narrow query
        for execution in (await get_executions(store, ended)).values():
            watch.offer(execution)
    return unknown


async def _offer_backlog(store: Store, watch: Watch, since: datetime) -> None:
    """Offer the terminal executions matching a filter watch that were created at or after `since`."""
    cursor = None
    while True:
        query = ExecutionQuery(
            pipeline_id=watch.pipeline_id,
            tags=tuple(sorted(watch.tags)),
            statuses=_TERMINAL,
            created_after=db_time(since),
            sort_by="created_at",
            sort_order="asc",
            limit=500,
            cursor=cursor,
        )
        page = await store.list_executions(query)
        for execution in page.items:
            watch.offer(execution)
        if page.next_cursor is None:
            return
        cursor = decode_cursor(page.next_cursor)


# ---------------------------------------------------------------------------------------- long-poll


async def wait_many(request: web.Request) -> web.Response:
    """`POST /budpipeline/executions/wait`: the `ids` that have ended, waiting up to `timeout` for one."""
    body = await read_json_object(request)
    fields = Fields(body, allowed=("ids", "timeout"))
    limit = config_of(request).long_poll_max_seconds
    timeout = fields.number("timeout", nullable=True)
    if isinstance(timeout, float) and timeout > limit:
        fields.issues.append(over_limit("timeout", timeout, limit, "long_poll_max_seconds"))
    fields.check()
    if not isinstance(timeout, float):
        timeout = min(DEFAULT_WAIT, limit)  # the default adapts to the limit; only a sent value is refused
    if timeout < 0:
        raise ApiError.invalid([issue("timeout", "must be >= 0", "range")])
    ids = _check_ids(body.get("ids"), "ids")
    hub = _hub(request)
    watch = hub.open(Watch())
    try:
        unknown = await _subscribe_ids(store_of(request), watch, ids)
        if watch.queue.empty() and watch.ids and timeout > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    first = await watch.queue.get()
                    watch.queue.put_nowait(first)
        done = watch.drain(len(ids))
    finally:
        hub.close(watch)
    finished = {execution.id for execution in done}
    return json_response(
        {
            "items": [to_json_dict(execution) for execution in done],
            "pending": [i for i in ids if i not in finished and i not in unknown],
            "unknown": unknown,
        }
    )


# ---------------------------------------------------------------------------------------- websocket


class _Socket:
    """One watch connection: serialises sends, counts what went out."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.lock = asyncio.Lock()
        self.sent = 0

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.lock, asyncio.timeout(SEND_TIMEOUT):
            await self.ws.send_str(dump_json(payload))

    async def error(self, code: str, message: str, path: str | None = None) -> None:
        details = [issue(path, message)] if path else None
        await self.send({"type": "error", "error": {"code": code, "message": message, "details": details}})


def _watch_query(request: web.Request) -> tuple[Watch, list[str], datetime | None, float]:
    query = QueryFields(request.query)
    ids = query.values("ids")
    tags = query.values("tag") + [t for t in query.values("tags") if t not in query.values("tag")]
    pipeline_id = query.string("pipeline_id")
    since = query.timestamp("since")
    heartbeat = query.number("heartbeat", minimum=0.05) or DEFAULT_HEARTBEAT
    if len(ids) > MAX_IDS_PER_MESSAGE:
        query.fail("ids", f"at most {MAX_IDS_PER_MESSAGE} ids in the query; send more in subscribe frames")
    if since is not None and pipeline_id is None and not tags:
        query.fail("since", "since needs pipeline_id or tag (it selects a filter's backlog)")
    query.check()
    return Watch(pipeline_id=pipeline_id, tags=tags), ids, since, heartbeat


async def watch_executions(request: web.Request) -> web.StreamResponse:
    """`GET /budpipeline/executions/watch`: the websocket subscription (see the module docstring)."""
    watch, ids, since, heartbeat = _watch_query(request)
    ws = web.WebSocketResponse(heartbeat=None, max_msg_size=1024 * 1024)
    if not ws.can_prepare(request).ok:
        raise ApiError(400, "this route needs a websocket upgrade", code="websocket_required")
    store = store_of(request)
    hub = _hub(request)
    await ws.prepare(request)
    sockets = request.app[WATCH_SOCKETS]
    sockets.add(ws)
    socket = _Socket(ws)
    hub.open(watch)
    reader = asyncio.create_task(_read_frames(socket, store, watch), name="budai-watch-reader")
    try:
        if ids:
            unknown = await _subscribe_ids(store, watch, ids)
            await socket.send({"type": "subscribed", "ids": len(ids), "unknown": unknown})
        if since is not None:
            await _offer_backlog(store, watch, since)
        await _send_loop(socket, watch, reader, heartbeat)
    except (TimeoutError, ConnectionError):
        if request.transport is not None:
            request.transport.abort()
    finally:
        hub.close(watch)
        sockets.discard(ws)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return ws


async def _send_loop(socket: _Socket, watch: Watch, reader: asyncio.Task[None], heartbeat: float) -> None:
    """Send ended executions, in the order they ended, in frames of up to FRAME_MAX_ITEMS; heartbeats.

    After an idle spell the first execution waits FRAME_LINGER for the ones ending with it, so a
    busy server sends a few large frames instead of one frame per execution.
    """
    first: list[Execution] = []
    while not reader.done() and not socket.ws.closed:
        if watch.overflowed:
            await socket.ws.close(code=CLOSE_LAGGING, message=b"lagging: subscribe again")
            return
        batch = first + watch.drain(FRAME_MAX_ITEMS - len(first))
        first = []
        if batch:
            await socket.send({"type": "executions", "items": [to_json_dict(e) for e in batch]})
            socket.sent += len(batch)
            continue
        getter = asyncio.ensure_future(watch.queue.get())
        done, _ = await asyncio.wait({getter, reader}, timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            first = [getter.result()]
            await asyncio.sleep(FRAME_LINGER)
            continue
        getter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await getter
        if not done:
            await socket.send({"type": "heartbeat", "awaiting": len(watch.ids), "sent": socket.sent})


async def _read_frames(socket: _Socket, store: Store, watch: Watch) -> None:
    """Handle subscribe/unsubscribe frames until the peer closes; bad frames get an error frame."""
    async for message in socket.ws:
        if message.type is WSMsgType.ERROR:
            return
        if message.type is not WSMsgType.TEXT:
            await socket.error("invalid_frame", "send JSON text frames")
            continue
        if exceeds_depth(message.data, MAX_FRAME_DEPTH):
            await socket.error("too_deep", f"frame nests deeper than {MAX_FRAME_DEPTH} levels")
            continue
        try:
            frame = json.loads(message.data)
        except ValueError:
            await socket.error("invalid_json", "frame is not valid JSON")
            continue
        if not isinstance(frame, dict) or frame.get("type") not in ("subscribe", "unsubscribe"):
            await socket.error("invalid_frame", "type must be 'subscribe' or 'unsubscribe'", "type")
            continue
        try:
            ids = _check_ids(frame.get("ids"), "ids")
        except ApiError as error:
            detail = error.details[0] if isinstance(error.details, list) and error.details else {}
            await socket.error(error.code, error.message, detail.get("path", "ids"))
            continue
        if frame["type"] == "unsubscribe":
            watch.discard_ids(ids)
            await socket.send({"type": "unsubscribed", "ids": len(ids)})
            continue
        if len(watch.ids) + len(ids) > MAX_IDS_PER_WATCH:
            limit = f"a watch awaits at most {MAX_IDS_PER_WATCH} ids at once"
            await socket.error("too_many_ids", limit, "ids")
            continue
        unknown = await _subscribe_ids(store, watch, ids)
        await socket.send({"type": "subscribed", "ids": len(ids), "unknown": unknown})


async def _close_sockets(app: web.Application) -> None:
    """At shutdown every watch closes with 1001, so its client reconnects and subscribes again."""
    sockets: set[web.WebSocketResponse] = app[WATCH_SOCKETS]
    for ws in list(sockets):
        with contextlib.suppress(Exception):
            await ws.close(code=CLOSE_GOING_AWAY, message=b"server shutting down")


def setup(app: web.Application) -> None:
    """Register the watch websocket and the long-poll (called by `routes.batch.setup`)."""
    hub = app[HUB] = WatchHub()
    app[SCHEDULER].add_terminal_listener(hub.on_terminal)
    app[WATCH_SOCKETS] = set()
    app.router.add_get("/budpipeline/executions/watch", watch_executions)
    app.router.add_post("/budpipeline/executions/wait", wait_many)
    app.on_shutdown.append(_close_sockets)
