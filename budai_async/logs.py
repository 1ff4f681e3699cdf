"""Execution logs in the SDK: a paged REST read, and a websocket follower that never loses or repeats a line.

`fetch_logs` pages `GET .../logs` through `next_seq`. `LogStream` follows
`GET .../logs/stream` with the `websockets` package: a reader task turns frames into `LogEntry`s
in a bounded buffer, decoupled from the caller's pace. When the buffer is full the reader stops
reading, the server drops the lagging stream (close 4008), and the reader reconnects with
`after_seq` set to the last line it took - so the caller sees every line once, in seq order.
Reconnects use capped, jittered exponential backoff (`budai_async._logcursor.reconnect_delay`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import attrs
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from budai_async._convert import converter, format_datetime
from budai_async._logcursor import ResumeCursor, parse_level, parse_since, reconnect_delay, should_resume
from budai_async._responses import error_from_response
from budai_async._version import __version__
from budai_async.errors import APIConnectionError, APIStatusError, BudError, ValidationError
from budai_async.models import ExecutionStatus, LogEntry

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "FollowOptions",
    "LogStream",
    "SinceLike",
    "build_query",
    "execution_logs",
    "fetch_logs",
    "stream_url",
]

SinceLike = str | datetime | timedelta
GetPage = Callable[[dict[str, str]], Awaitable[Any]]
"""Does `GET .../logs` with the given query and returns the decoded JSON body (raising our errors)."""

_RETRYABLE_HANDSHAKE = frozenset({408, 425, 429, 500, 502, 503, 504})


def _since_text(since: SinceLike, *, absolute: bool) -> str:
    """Query text for `since`; `absolute` pins a relative value to an instant on our clock."""
    if isinstance(since, datetime):
        return format_datetime(since if since.tzinfo else since.replace(tzinfo=UTC))
    if isinstance(since, timedelta):
        if since < timedelta(0):
            raise ValidationError("since must not be a negative duration")
        if absolute:
            return format_datetime(datetime.now(UTC) - since)
        return f"{since.total_seconds():g}s"
    try:
        instant = parse_since(since, datetime.now(UTC))
    except ValueError as error:
        raise ValidationError(str(error)) from error
    return format_datetime(instant) if absolute else since


def build_query(
    *,
    level: str | None = None,
    step_id: str | None = None,
    since: SinceLike | None = None,
    absolute_since: bool = False,
) -> dict[str, str]:
    """Validate the filters before anything is sent; raises ValidationError for a bad level or since."""
    query: dict[str, str] = {}
    if level is not None:
        try:
            query["level"] = parse_level(str(level))
        except ValueError as error:
            raise ValidationError(str(error)) from error
    if step_id is not None:
        query["step_id"] = step_id
    if since is not None:
        query["since"] = _since_text(since, absolute=absolute_since)
    return query


async def fetch_logs(get_page: GetPage, query: Mapping[str, str], *, page_size: int = 1000) -> list[LogEntry]:
    """Read every matching line over REST, following `next_seq` until the server says the end."""
    entries: list[LogEntry] = []
    after_seq = int(query.get("after_seq", "0"))
    while True:
        body = await get_page({**query, "after_seq": str(after_seq), "limit": str(page_size)})
        if not isinstance(body, Mapping) or not isinstance(body.get("items"), list):
            raise BudError(f"unexpected logs page: {type(body).__name__}")
        entries.extend(converter.structure(item, LogEntry) for item in body["items"])
        next_seq = body.get("next_seq")
        if next_seq is None or not body["items"]:
            return entries
        after_seq = int(next_seq)


def stream_url(base_url: str, execution_id: str) -> str:
    """The websocket URL of an execution's log stream, from the client's http(s) base URL."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValidationError(f"base_url must be http(s)://, got {base_url!r}")
    path = f"{parts.path.rstrip('/')}/budpipeline/executions/{quote(execution_id, safe='')}/logs/stream"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


@attrs.frozen(kw_only=True)
class FollowOptions:
    """How a `LogStream` buffers and reconnects; the defaults suit a person watching a terminal."""

    # Lines read ahead of the caller; when full, reading stops and the server drops us (we resume).
    buffer_lines: int = 2000
    reconnect_base_seconds: float = 0.1
    reconnect_max_seconds: float = 5.0
    # Give up (APIConnectionError) after failing to reconnect for this long; None retries forever.
    give_up_after_seconds: float | None = 120.0
    # No frame at all (not even a heartbeat) for this long means the connection is dead.
    idle_timeout_seconds: float = 30.0
    open_timeout_seconds: float = 10.0
    max_frame_bytes: int = 16 * 1024 * 1024
    # Kernel receive buffer of the socket (SO_RCVBUF); None keeps the OS default, which can grow
    # to tens of MB, so a stalled caller is noticed by the server only that much later.
    receive_buffer_bytes: int | None = None


@attrs.frozen
class _End:
    status: ExecutionStatus


_Item = LogEntry | _End | Exception


class LogStream:
    """Live lines of one execution: an async iterator and an async context manager.

    ``async with client.executions.logs(eid, follow=True) as lines: async for line in lines: ...``
    Iteration ends after the execution's last line (`status` then holds its final status).
    `break`, `aclose()`, leaving the `async with` or cancelling the task closes the socket.
    Raises NotFoundError for an unknown execution, AuthenticationError for a bad key, and
    APIConnectionError once reconnecting has failed for `give_up_after_seconds`.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        after_seq: int = 0,
        options: FollowOptions | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self._headers = dict(headers)
        self._query = dict(query)
        self.options = options or FollowOptions()
        self._rng = rng or random.Random()
        self._cursor = ResumeCursor(after_seq)  # last seq handed to the caller
        self._received = after_seq  # last seq the reader put in the buffer
        self._buffer: asyncio.Queue[_Item] = asyncio.Queue(maxsize=self.options.buffer_lines)
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closed = False
        self.status: ExecutionStatus | None = None
        self.reconnects = 0

    @property
    def last_seq(self) -> int:
        """Seq of the last line handed to the caller (where a new stream would resume)."""
        return self._cursor.last_seq

    async def __aenter__(self) -> LogStream:
        """Connect now, so an unknown execution or a bad key raises here rather than mid-loop."""
        self._start()
        connected = asyncio.ensure_future(self._connected.wait())
        assert self._reader is not None
        try:
            await asyncio.wait({connected, self._reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            connected.cancel()
        if not self._connected.is_set() and self._reader.done():
            # The reader ended before any connection: the error waits first in the buffer.
            item = self._buffer.get_nowait()
            if isinstance(item, Exception):
                await self.aclose()
                raise item
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[LogEntry]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[LogEntry]:
        self._start()
        try:
            while True:
                item = await self._buffer.get()
                if isinstance(item, _End):
                    self.status = item.status
                    return
                if isinstance(item, Exception):
                    raise item
                if self._cursor.advance(item.seq):
                    yield item
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and close the socket (idempotent)."""
        self._closed = True
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    def _start(self) -> None:
        if self._closed:
            raise BudError("this log stream is closed; open a new one")
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_forever(), name=f"budai-logs {self.url}")

    # ------------------------------------------------------------------ reader task

    async def _read_forever(self) -> None:
        """Connect, read, reconnect until `end` or a fatal error; the outcome goes into the buffer."""
        attempt = 0
        failing_since: float | None = None
        try:
            while True:
                try:
                    outcome = await self._read_one_connection()
                except _Reconnect:
                    outcome = False
                except APIStatusError as error:
                    if error.status_code not in _RETRYABLE_HANDSHAKE:
                        raise
                    outcome = False
                if isinstance(outcome, _End):  # the socket is closed already
                    await self._buffer.put(outcome)
                    return
                if outcome:  # the connection delivered frames: start backing off afresh
                    attempt, failing_since = 0, None
                now = time.monotonic()
                failing_since = now if failing_since is None else failing_since
                limit = self.options.give_up_after_seconds
                if limit is not None and now - failing_since > limit:
                    raise APIConnectionError(f"log stream {self.url}: no connection for {limit:g} s")
                delay = reconnect_delay(
                    attempt,
                    base=self.options.reconnect_base_seconds,
                    cap=self.options.reconnect_max_seconds,
                    rand=self._rng.random(),
                )
                attempt += 1
                self.reconnects += 1
                await asyncio.sleep(delay)
        except Exception as error:  # handed to the caller, who raises it from the loop
            await self._buffer.put(error)

    def _connect_url(self) -> str:
        query = {**self._query, "after_seq": str(self._received)}
        return f"{self.url}?{urlencode(query)}"

    async def _open(self) -> ClientConnection:
        """Open one websocket; handshake answers become our errors, transport failures `_Reconnect`."""
        url = self._connect_url()
        try:
            sock = None
            if self.options.receive_buffer_bytes is not None:
                async with asyncio.timeout(self.options.open_timeout_seconds):
                    sock = await _tcp_socket(url, self.options.receive_buffer_bytes)
            return await connect(
                url,
                sock=sock,
                proxy=None,  # like the REST transport: no proxy taken from the environment
                additional_headers=self._headers,
                open_timeout=self.options.open_timeout_seconds,
                # The server sends heartbeat frames; our own pings could time out while we
                # deliberately stop reading for a slow caller, so there are none.
                ping_interval=None,
                max_size=self.options.max_frame_bytes,
                # Few frames queued inside `websockets`: our own buffer is the one that counts.
                max_queue=4,
                close_timeout=2.0,
            )
        except InvalidStatus as error:
            response = error.response
            raise error_from_response(
                response.status_code,
                dict(response.headers.raw_items()),
                bytes(response.body or b""),
                now=datetime.now(UTC),
                context="log stream",
            ) from error
        except InvalidURI as error:
            raise BudError(f"invalid log stream URL {url!r}: {error}") from error
        except (OSError, InvalidHandshake, TimeoutError) as error:
            raise _Reconnect() from error

    async def _read_one_connection(self) -> bool | _End:
        """Read one connection to its end: the `end` frame, or whether it delivered any frame."""
        ws = await self._open()
        self._connected.set()
        progressed = False
        try:
            while True:
                try:
                    async with asyncio.timeout(self.options.idle_timeout_seconds):
                        raw = await ws.recv()
                except TimeoutError:
                    return progressed
                except ConnectionClosed as closed:
                    code = closed.rcvd.code if closed.rcvd is not None else None
                    if not should_resume(code):
                        reason = closed.rcvd.reason if closed.rcvd is not None else ""
                        raise BudError(f"log stream closed by the server: {code} {reason}") from closed
                    return progressed
                progressed = True
                end = await self._handle_frame(raw)
                if end is not None:
                    return end
        finally:
            await _close_quietly(ws)

    async def _handle_frame(self, raw: str | bytes) -> _End | None:
        """Buffer the new lines of a frame (waiting while the caller is behind); `_End` at the end."""
        try:
            frame = json.loads(raw)
            kind = frame["type"]
        except (ValueError, TypeError, KeyError) as error:
            raise BudError(f"malformed log stream frame: {raw[:200]!r}") from error
        if kind == "lines":
            for item in frame["items"]:
                entry = converter.structure(item, LogEntry)
                if entry.seq > self._received:
                    await self._buffer.put(entry)  # blocks while the caller is behind
                    self._received = entry.seq
        elif kind == "end":
            return _End(ExecutionStatus(frame.get("status", "completed")))
        # heartbeats (and frame types added later) only prove the connection is alive
        return None


async def _close_quietly(ws: ClientConnection) -> None:
    """Close the websocket; if that is interrupted (cancellation), drop the TCP connection instead."""
    try:
        await ws.close()
    except Exception:
        ws.transport.abort()
    except BaseException:
        ws.transport.abort()
        raise


async def _tcp_socket(url: str, receive_buffer: int) -> socket.socket:
    """A connected non-blocking socket with a fixed receive buffer (set before connect, so it holds)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    loop = asyncio.get_running_loop()
    error: OSError = OSError(f"cannot resolve {host}")
    for family, kind, proto, _name, address in await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            await loop.sock_connect(sock, address)
        except OSError as failed:
            sock.close()
            error = failed
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error


class _Reconnect(Exception):
    """The connection failed in a way that reconnecting may cure."""


class LogClient(Protocol):
    """What `logs` needs from `AsyncBudClient` (a protocol, so this module does not import the client)."""

    @property
    def base_url(self) -> str: ...

    @property
    def api_key(self) -> str | None: ...

    async def request(
        self, method: str, path: str, *, params: Sequence[tuple[str, str]] | None = None
    ) -> Any: ...


def stream_headers(api_key: str | None) -> dict[str, str]:
    """Headers of the websocket handshake: the same Bearer key and user agent as REST calls."""
    headers = {"User-Agent": f"budai-async/{__version__}"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


@overload
def execution_logs(
    client: LogClient,
    execution_id: str,
    *,
    level: str | None = ...,
    step_id: str | None = ...,
    since: SinceLike | None = ...,
    follow: Literal[False] = ...,
    after_seq: int = ...,
    options: FollowOptions | None = ...,
) -> Awaitable[list[LogEntry]]: ...


@overload
def execution_logs(
    client: LogClient,
    execution_id: str,
    *,
    level: str | None = ...,
    step_id: str | None = ...,
    since: SinceLike | None = ...,
    follow: Literal[True],
    after_seq: int = ...,
    options: FollowOptions | None = ...,
) -> LogStream: ...


def execution_logs(
    client: LogClient,
    execution_id: str,
    *,
    level: str | None = None,
    step_id: str | None = None,
    since: SinceLike | None = None,
    follow: bool = False,
    after_seq: int = 0,
    options: FollowOptions | None = None,
) -> Awaitable[list[LogEntry]] | LogStream:
    """An execution's log lines: awaitable list (REST) or, with `follow=True`, a live `LogStream`.

    `level` is a minimum level; `since` is `30s`/`5m`/`2h`/`1d`, an ISO time, a datetime or a
    timedelta (a follower pins a relative `since` to an instant once, so resuming never moves it).
    Raises ValidationError for a bad filter before anything is sent; NotFoundError for an unknown
    execution (when awaited, or when the stream connects).
    """
    if after_seq < 0:
        raise ValidationError(f"after_seq must be >= 0, got {after_seq}")
    if not execution_id:
        raise ValidationError("execution_id must not be empty")
    query = build_query(level=level, step_id=step_id, since=since, absolute_since=follow)
    if follow:
        return LogStream(
            stream_url(client.base_url, execution_id),
            headers=stream_headers(client.api_key),
            query=query,
            after_seq=after_seq,
            options=options,
        )
    path = f"/budpipeline/executions/{quote(execution_id, safe='')}/logs"

    async def get_page(page_query: dict[str, str]) -> Any:
        return await client.request("GET", path, params=list(page_query.items()))

    return fetch_logs(get_page, {**query, "after_seq": str(after_seq)})
