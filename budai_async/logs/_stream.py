"""The websocket follower behind `execution_logs(..., follow=True)`: `LogStream` and its options.

A reader task turns `GET .../logs/stream` frames (the `websockets` package) into `LogEntry`s in a
bounded buffer, decoupled from the caller's pace. When the buffer is full the reader stops reading,
the server drops the lagging stream (close 4008), and the reader reconnects with `after_seq` set to
the last line it buffered - so the caller sees every line once, in seq order. Other failures
reconnect with capped, jittered exponential backoff; the policy is the pure functions of
`budai_async.logs.cursor`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

import attrs
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from budai_async._responses import error_from_response
from budai_async.errors import APIStatusError, BudError, ValidationError
from budai_async.logs._frames import read_frame
from budai_async.logs._reconnect import ReconnectBackoff
from budai_async.logs.cursor import CLOSE_LAGGING, ResumeCursor, resume_at_once, should_resume
from budai_async.models import ExecutionStatus, LogEntry

__all__ = ["FollowOptions", "LogStream"]

_ws_log = logging.getLogger("budai_async.ws")

_RETRYABLE_HANDSHAKE = frozenset({408, 425, 429, 500, 502, 503, 504})


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValidationError(f"FollowOptions.{attribute.name} must be > 0, got {value!r}")


def _positive_or_none(_instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None:
        _positive(_instance, attribute, value)


@attrs.frozen(kw_only=True)
class FollowOptions:
    """How a `LogStream` buffers and reconnects; the defaults suit a person watching a terminal."""

    # Lines read ahead of the caller; when full, reading stops and the server drops us (we resume).
    buffer_lines: int = attrs.field(default=2000, validator=_positive)
    reconnect_base_seconds: float = attrs.field(default=0.1, validator=_positive)
    reconnect_max_seconds: float = attrs.field(default=5.0, validator=_positive)
    # Give up (APIConnectionError) after failing to reconnect for this long; None retries forever.
    give_up_after_seconds: float | None = attrs.field(default=120.0, validator=_positive_or_none)
    # No frame at all (not even a heartbeat) for this long means the connection is dead.
    idle_timeout_seconds: float = attrs.field(default=30.0, validator=_positive)
    open_timeout_seconds: float = attrs.field(default=10.0, validator=_positive)
    max_frame_bytes: int = attrs.field(default=16 * 1024 * 1024, validator=_positive)
    # Kernel receive buffer of the socket (SO_RCVBUF); None keeps the OS default, which can grow
    # to tens of MB, so a stalled caller is noticed by the server only that much later.
    receive_buffer_bytes: int | None = attrs.field(default=None, validator=_positive_or_none)


@attrs.frozen
class _End:
    """The server's `end` frame: the execution is over and every line was sent."""

    status: ExecutionStatus


@attrs.frozen
class _Closed:
    """A connection ended without `end`: whether it delivered frames, and its close code."""

    progressed: bool
    code: int | None


_Item = list[LogEntry] | _End | Exception


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
        proxy: str | None = None,
    ) -> None:
        self.url = url
        self._proxy = proxy
        self._headers = dict(headers)
        self._query = dict(query)
        self.options = options or FollowOptions()
        self._rng = rng or random.Random()
        self._cursor = ResumeCursor(after_seq)  # last seq handed to the caller
        self._received = after_seq  # last seq the reader put in the buffer
        # Frames' worth of lines; `_buffered` counts the lines in it against `buffer_lines`.
        self._buffer: asyncio.Queue[_Item] = asyncio.Queue()
        self._buffered = 0
        self._room = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closed = False
        self.status: ExecutionStatus | None = None
        self.reconnects = 0
        # Of those, how many the server closed because we had stopped reading (4008).
        self.lagging_closes = 0

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
                self._buffered -= len(item)
                self._room.set()
                for entry in item:
                    if self._cursor.advance(entry.seq):
                        yield entry
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
        backoff = ReconnectBackoff(
            what=f"log stream {self.url}",
            base=self.options.reconnect_base_seconds,
            cap=self.options.reconnect_max_seconds,
            give_up_after=self.options.give_up_after_seconds,
            rng=self._rng,
        )
        try:
            while True:
                try:
                    outcome = await self._read_one_connection()
                except _Reconnect:
                    outcome = _Closed(progressed=False, code=None)
                except APIStatusError as error:
                    if error.status_code not in _RETRYABLE_HANDSHAKE:
                        raise
                    outcome = _Closed(progressed=False, code=None)
                if isinstance(outcome, _End):  # the socket is closed already
                    self._buffer.put_nowait(outcome)
                    return
                self.reconnects += 1
                if outcome.code == CLOSE_LAGGING:
                    self.lagging_closes += 1
                if resume_at_once(outcome.code):
                    backoff.reset()
                    continue
                if outcome.progressed:  # the connection delivered frames: back off afresh
                    backoff.reset()
                await backoff.pause()
        except Exception as error:  # handed to the caller, who raises it from the loop
            self._buffer.put_nowait(error)

    def _connect_url(self) -> str:
        query = {**self._query, "after_seq": str(self._received)}
        return f"{self.url}?{urlencode(query)}"

    async def _open(self) -> ClientConnection:
        """Open one websocket; handshake answers become our errors, transport failures `_Reconnect`."""
        url = self._connect_url()
        _ws_log.info(
            "%s log stream %s resuming after seq %d",
            "reconnecting" if self.reconnects else "connecting",
            self.url,
            self._received,
        )
        try:
            sock = None
            if self.options.receive_buffer_bytes is not None and self._proxy is None:
                async with asyncio.timeout(self.options.open_timeout_seconds):
                    sock = await _tcp_socket(url, self.options.receive_buffer_bytes)
            return await connect(
                url,
                sock=sock,
                proxy=self._proxy,  # the client's (AsyncBudClient.websocket_proxy), never guessed here
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

    async def _read_one_connection(self) -> _End | _Closed:
        """Read one connection to its end: the `end` frame, or how it closed."""
        ws = await self._open()
        self._connected.set()
        progressed = False
        try:
            while True:
                try:
                    async with asyncio.timeout(self.options.idle_timeout_seconds):
                        raw = await ws.recv()
                except TimeoutError:  # not even a heartbeat: the connection is dead
                    return _Closed(progressed=progressed, code=None)
                except ConnectionClosed as closed:
                    code = closed.rcvd.code if closed.rcvd is not None else None
                    if not should_resume(code):
                        reason = closed.rcvd.reason if closed.rcvd is not None else ""
                        raise BudError(f"log stream closed by the server: {code} {reason}") from closed
                    return _Closed(progressed=progressed, code=code)
                progressed = True
                end = await self._handle_frame(raw)
                if end is not None:
                    return end
        finally:
            await _close_quietly(ws)

    async def _handle_frame(self, raw: str | bytes) -> _End | None:
        """Buffer the new lines of a frame (waiting while the caller is behind); `_End` at the end."""
        frame = read_frame(raw)
        if frame.kind == "lines":
            entries = [entry for entry in frame.entries if entry.seq > self._received]
            if entries:
                while self._buffered >= self.options.buffer_lines:  # the caller is behind: stop reading
                    self._room.clear()
                    await self._room.wait()
                self._buffered += len(entries)
                self._buffer.put_nowait(entries)
                self._received = entries[-1].seq
        elif frame.status is not None:
            return _End(frame.status)
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
