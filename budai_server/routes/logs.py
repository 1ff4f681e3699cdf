"""Execution logs over HTTP: a paged REST read and a websocket that follows the execution live.

REST `GET /budpipeline/executions/{id}/logs` answers `{items, next_seq}`; the websocket
`GET /budpipeline/executions/{id}/logs/stream` sends the backlog, then live lines, heartbeats while
idle and one `end` frame once the execution is terminal and every line is out (docs/logs.md).
A subscriber whose buffer overflows catches up from the store; one that stops reading (a frame not
taken within the send timeout) is closed with 4008 and resumes by seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
from aiohttp import WSMsgType, web

from budai_async.logs.cursor import (
    CLOSE_GOING_AWAY,
    CLOSE_LAGGING,
    CLOSE_NORMAL,
    LogFilter,
    parse_after_seq,
    parse_level,
    parse_limit,
    parse_since,
)
from budai_async.models import TERMINAL_STATUSES, Execution
from budai_server.appkeys import LOGBUS, SCHEDULER
from budai_server.logs.bus import LogBus, LogSettings
from budai_server.logs.frames import lines_frame
from budai_server.logs.store import LogLine
from budai_server.logs.subscription import Subscription
from budai_server.routes.errors import ApiError, json_response

__all__ = ["LogQuery", "QueryError", "parse_log_query", "setup"]

log = logging.getLogger(__name__)

# At shutdown a stream waits this long for the client's close frame, then drops the connection.
_SHUTDOWN_CLOSE_WAIT = 0.5
# A closed stream whose peer has not taken the rest of its bytes after this long is aborted.
_STALLED_LINGER = 60.0
REST_DEFAULT_LIMIT = 1000
REST_MAX_LIMIT = 10_000
_TERMINAL = frozenset(str(status) for status in TERMINAL_STATUSES)


@attrs.frozen(kw_only=True)
class LogQuery:
    """The validated query string of a log read or stream."""

    filter: LogFilter
    after_seq: int = 0
    limit: int = REST_DEFAULT_LIMIT
    drop_every: int | None = None


@attrs.frozen(kw_only=True)
class QueryError:
    """One bad query parameter, reported in the 422 body's `details`."""

    field: str
    message: str


def parse_log_query(
    query: Mapping[str, str], *, now: datetime, test_hooks: bool = False
) -> LogQuery | list[QueryError]:
    """Validate `level`, `step_id`, `since`, `after_seq`, `limit` (and the test-only `drop_every`).

    Empty values count as absent. Returns every fault at once, so one 422 names all bad fields.
    """
    errors: list[QueryError] = []
    level = since = None
    after_seq, limit, drop_every = 0, REST_DEFAULT_LIMIT, None
    if value := query.get("level", ""):
        try:
            level = parse_level(value)
        except ValueError as error:
            errors.append(QueryError(field="level", message=str(error)))
    if value := query.get("since", ""):
        try:
            since = parse_since(value, now)
        except ValueError as error:
            errors.append(QueryError(field="since", message=str(error)))
    if value := query.get("after_seq", ""):
        try:
            after_seq = parse_after_seq(value)
        except ValueError as error:
            errors.append(QueryError(field="after_seq", message=str(error)))
    if value := query.get("limit", ""):
        try:
            limit = parse_limit(value, REST_MAX_LIMIT)
        except ValueError as error:
            errors.append(QueryError(field="limit", message=str(error)))
    if test_hooks and (value := query.get("drop_every", "")):
        try:
            drop_every = parse_limit(value, 1_000_000)
        except ValueError as error:
            errors.append(QueryError(field="drop_every", message=str(error).replace("limit", "drop_every")))
    if errors:
        return errors
    step_id = query.get("step_id") or None
    return LogQuery(
        filter=LogFilter.build(level=level, step_id=step_id, since=since),
        after_seq=after_seq,
        limit=limit,
        drop_every=drop_every,
    )


def _invalid(errors: Sequence[QueryError]) -> ApiError:
    return ApiError.invalid(
        [{"path": error.field, "message": error.message, "code": "invalid"} for error in errors],
        message=f"invalid query parameter: {', '.join(error.field for error in errors)}",
    )


async def _query_and_status(request: web.Request) -> tuple[LogBus, str, LogQuery, str]:
    """Shared front of both handlers: validate the query, then make sure the execution exists.

    Raises ApiError (422 naming the fields, 404) before any websocket upgrade.
    """
    bus: LogBus = request.app[LOGBUS]
    execution_id = request.match_info["execution_id"]
    parsed = parse_log_query(request.query, now=datetime.now(UTC), test_hooks=bus.settings.test_hooks)
    if isinstance(parsed, list):
        raise _invalid(parsed)
    status = await bus.store.execution_status(execution_id)
    if status is None:
        raise ApiError.not_found("execution", execution_id)
    return bus, execution_id, parsed, status


async def read_logs(request: web.Request) -> web.Response:
    """`GET .../logs`: one page; `next_seq` is the `after_seq` of the next page, null at the end."""
    bus, execution_id, query, _status = await _query_and_status(request)
    lines = await bus.read(execution_id, query.filter, after_seq=query.after_seq, limit=query.limit)
    next_seq = lines[-1].seq if len(lines) >= query.limit else None
    return json_response({"items": [line.wire() for line in lines], "next_seq": next_seq})


class _Sender:
    """Writes frames to one socket: batches lines, honours the test drop hook, tracks the cursor."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        settings: LogSettings,
        after_seq: int,
        drop_every: int | None,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.reader: asyncio.Task[None] | None = None  # drains client frames; see `_close`
        self.settings = settings
        self.cursor = after_seq  # last seq sent
        self.drop_every = drop_every
        self.sent_lines = 0
        self.dropped = False

    async def send(self, payload: dict[str, Any]) -> None:
        await self.send_text(json.dumps(payload, separators=(",", ":")))

    async def send_text(self, text: str) -> None:
        """Send one frame; TimeoutError when the peer has not taken it within the send timeout."""
        async with asyncio.timeout(self.settings.send_timeout_seconds):
            await self.ws.send_str(text)

    async def lines(self, lines: Sequence[LogLine]) -> None:
        """Send the lines past the cursor, at most `frame_max_lines` per frame."""
        fresh = [line for line in lines if line.seq > self.cursor]
        step = self.settings.frame_max_lines
        while fresh and not self.dropped:
            count = step
            if self.drop_every is not None:
                count = min(count, self.drop_every - self.sent_lines % self.drop_every)
            batch, fresh = fresh[:count], fresh[count:]
            await self.send_text(lines_frame(batch))
            self.cursor = batch[-1].seq
            self.sent_lines += len(batch)
            if self.drop_every is not None and self.sent_lines % self.drop_every == 0:
                self.dropped = True


async def _drain_incoming(ws: web.WebSocketResponse, subscription: Subscription) -> None:
    """Read (and ignore) client frames so close frames and pings are handled; hang up at the end."""
    try:
        async for message in ws:
            if message.type is WSMsgType.ERROR:
                break
    finally:
        subscription.hang_up()


async def _close(sender: _Sender, code: int, message: str, *, wait: float | None = None) -> None:
    """Close politely, waiting up to `wait` (default: the send timeout) for the peer's close frame.

    The client-frame reader is stopped first: with a concurrent reader aiohttp drops the TCP
    connection right after sending the close frame, and the peer would never see our code.
    If the wait runs out, aiohttp closes the TCP connection itself (the close frame goes first).
    """
    if sender.reader is not None:
        sender.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender.reader
    try:
        async with asyncio.timeout(sender.settings.send_timeout_seconds if wait is None else wait):
            await sender.ws.close(code=code, message=message.encode())
    except (TimeoutError, ConnectionError):
        _cut(sender.transport, abort=False)
        # A peer that never reads again would keep the socket (and its unsent bytes) forever.
        transport = sender.transport
        if transport is not None:
            asyncio.get_running_loop().call_later(_STALLED_LINGER, transport.abort)


def _cut(transport: asyncio.Transport | None, *, abort: bool) -> None:
    """Drop the TCP connection without a close frame, as a network failure would.

    `abort` discards unsent bytes (a peer that stopped reading); otherwise they go out first.
    """
    if transport is None:
        return
    if abort:
        transport.abort()
    else:
        transport.close()


async def stream_logs(request: web.Request) -> web.StreamResponse:
    """`GET .../logs/stream`: backlog, live lines, heartbeats, then `end` (see the module doc)."""
    bus, execution_id, query, status = await _query_and_status(request)
    settings = bus.settings
    ws = web.WebSocketResponse(
        heartbeat=None,
        timeout=settings.send_timeout_seconds,
        max_msg_size=64 * 1024,
        compress=settings.compress,
    )
    if not ws.can_prepare(request).ok:
        raise ApiError(
            400,
            "this route needs a websocket upgrade (GET with Upgrade: websocket)",
            code="websocket_required",
        )
    await ws.prepare(request)
    subscription = bus.subscribe(execution_id, query.filter)
    request.app[_STREAMS].add(subscription)
    sender = _Sender(ws, request.transport, settings, query.after_seq, query.drop_every)
    reader = asyncio.create_task(_drain_incoming(ws, subscription), name=f"logs-ws-reader-{execution_id}")
    sender.reader = reader
    try:
        await _follow(bus, subscription, sender, execution_id, query.filter, status)
    except TimeoutError:
        # A frame not taken for `send_timeout_seconds`: the peer stopped reading. Only this closes
        # a stream for lagging; the 4008 goes out behind the frames already buffered, so a peer
        # that reads again sees it and resumes by seq.
        await _close(sender, CLOSE_LAGGING, "lagging, resume", wait=_SHUTDOWN_CLOSE_WAIT)
    except ConnectionError:
        _cut(sender.transport, abort=True)  # the peer went away; it resumes by seq
    finally:
        bus.unsubscribe(subscription)
        request.app[_STREAMS].discard(subscription)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return ws


async def _send_backlog(
    bus: LogBus, subscription: Subscription, sender: _Sender, execution_id: str, log_filter: LogFilter
) -> bool:
    """Send the stored lines past the cursor; True when the store had no more (not cut short).

    Lines published after the subscription started reach its buffer, so the store is read only
    up to the last line before it (when known): a busy execution's new lines are not written to
    SQLite and read back. The next page is read while the current one is sent, so SQLite and the
    socket overlap.
    """
    page = bus.settings.backlog_page_lines
    before = None if subscription.live_after is None else subscription.live_after + 1

    def read(after_seq: int) -> asyncio.Task[list[LogLine]]:
        return asyncio.ensure_future(
            bus.store.read(execution_id, log_filter, after_seq=after_seq, before_seq=before, limit=page)
        )

    pending = read(sender.cursor)
    try:
        while True:
            rows = await pending
            full = len(rows) == page
            if full:
                pending = read(rows[-1].seq)
            await sender.lines(rows)
            if not full:
                return True
            # A lag does not stop the backlog: the buffer kept the oldest live lines, which follow
            # the backlog's end, and the lines past them are read once those are sent.
            if subscription.peer_gone or sender.dropped:
                return False
    finally:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending


async def _catch_up(
    bus: LogBus, subscription: Subscription, sender: _Sender, execution_id: str, log_filter: LogFilter
) -> None:
    """Send every line past the cursor from the store and memory, then go back to live lines.

    Live buffering restarts before the first read: a line published after that is either in a
    read or in the buffer (duplicates are skipped by seq), and a line before it is in a read.
    """
    page = bus.settings.backlog_page_lines
    while not (subscription.peer_gone or subscription.shutdown or sender.dropped):
        subscription.resume()
        lines = await bus.read(execution_id, log_filter, after_seq=sender.cursor, limit=page)
        await sender.lines(lines)
        if len(lines) < page and not subscription.lagging:
            return


async def _follow(
    bus: LogBus,
    subscription: Subscription,
    sender: _Sender,
    execution_id: str,
    log_filter: LogFilter,
    status: str,
) -> None:
    settings = bus.settings
    # Backlog: stored lines first (the store is read after `subscribe`), then the memory snapshot.
    # Stopping early (lag, hang-up) must skip the snapshot too: sending it after an unfinished
    # store read would leave a gap behind the cursor the client resumes from.
    backlog_done = await _send_backlog(bus, subscription, sender, execution_id, log_filter)
    if backlog_done:
        await sender.lines(subscription.snapshot)
    subscription.snapshot = []
    if status in _TERMINAL and not bus.is_open(execution_id):
        subscription.finish(status)
    terminal_seen = False
    while True:
        if sender.dropped:
            _cut(sender.transport, abort=False)
            return
        if subscription.shutdown:  # do not hold the shutdown up for slow peers
            await _close(sender, CLOSE_GOING_AWAY, "server shutting down", wait=_SHUTDOWN_CLOSE_WAIT)
            return
        if subscription.peer_gone:  # it closed (aiohttp answered) or its connection broke
            if not sender.ws.closed:
                _cut(sender.transport, abort=True)
            return
        if subscription.pending:
            await sender.lines(subscription.take(settings.frame_max_lines))
            continue
        if subscription.lagging:
            # Its buffer overflowed while this peer was still taking frames (a burst faster than
            # the socket), and the lines it kept are sent: read the rest from the store and
            # memory, where every line is, and go on live.
            await _catch_up(bus, subscription, sender, execution_id, log_filter)
            continue
        if subscription.end_status is not None:
            await sender.send({"type": "end", "status": subscription.end_status, "last_seq": sender.cursor})
            await _close(sender, CLOSE_NORMAL, "end")
            return
        if not await subscription.wait(settings.heartbeat_seconds):
            await sender.send({"type": "heartbeat", "last_seq": sender.cursor})
            # Normally `close_execution` ends the stream; this catches an execution that ended
            # elsewhere (or a missing listener), after one heartbeat of grace for its last line.
            current = await bus.store.execution_status(execution_id)
            if current in _TERMINAL:
                if terminal_seen or not bus.is_open(execution_id):
                    subscription.finish(str(current))
                terminal_seen = True


_STREAMS = web.AppKey("log_streams", set[Subscription])


async def _hang_up_streams(app: web.Application) -> None:
    """At shutdown every open stream closes with 1001 so its client reconnects to the next server."""
    streams: set[Subscription] = app[_STREAMS]
    for subscription in list(streams):
        subscription.hang_up(shutdown=True)


def setup(app: web.Application) -> None:
    """Register the log routes, the shutdown hook and the scheduler's terminal listener.

    The log bus itself is started by `budai_server.logs.bus.logbus_ctx`. The listener runs after
    the scheduler emitted an execution's last line, so streams send `end` right behind it.
    """
    app[_STREAMS] = set()
    scheduler = app.get(SCHEDULER)
    if scheduler is not None:

        async def close_streams(execution: Execution) -> None:
            bus = app.get(LOGBUS)
            if bus is not None:
                await bus.on_terminal(execution)

        scheduler.add_terminal_listener(close_streams)
    app.router.add_get("/budpipeline/executions/{execution_id}/logs", read_logs)
    app.router.add_get("/budpipeline/executions/{execution_id}/logs/stream", stream_logs)
    app.on_shutdown.append(_hang_up_streams)
