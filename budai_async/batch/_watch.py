"""Await many executions over one status subscription instead of one poller each.

`StatusWatch` keeps one websocket to ``GET /budpipeline/executions/watch`` for a set of ids that may
grow while it runs (create_many adds ids as chunks are answered). The server sends each execution
once it is terminal, including those already terminal when subscribed, so subscribing never races
an execution's end. On a dropped connection the watch reconnects with jittered backoff and
subscribes again to the ids still awaited; a repeat after a reconnect is dropped here, so the
caller sees each execution once. A server without the websocket route (HTTP 404/405 on the
handshake) is served through the long-poll ``POST /budpipeline/executions/wait`` instead.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, overload
from urllib.parse import urlencode, urlsplit, urlunsplit

import attrs

from budai_async._convert import structure_execution
from budai_async._json import loads as json_loads
from budai_async._polling import advertised_maximum
from budai_async._requester import websocket_headers
from budai_async.errors import (
    APIStatusError,
    BudError,
    NotFoundError,
    UnprocessableEntityError,
    ValidationError,
)
from budai_async.logs._reconnect import ReconnectBackoff
from budai_async.models import Execution

if TYPE_CHECKING:
    from budai_async._requester import Requester
    from budai_async.batch._watch_link import Link

__all__ = ["StatusWatch", "WatchMethod", "WatchOptions", "Watched", "watch_url"]

WatchMethod = Literal["auto", "websocket", "longpoll"]
MAX_IDS_PER_FRAME = 1000
_CLOSE_LAGGING = 4008


@attrs.frozen(kw_only=True)
class WatchOptions:
    """Heartbeats, reconnects and long-polls of a `StatusWatch`."""

    heartbeat_seconds: float = 10.0
    # No frame at all for this many heartbeats means the connection is dead: reconnect.
    idle_heartbeats: float = 3.0
    reconnect_base_seconds: float = 0.1
    reconnect_max_seconds: float = 5.0
    # Give up (APIConnectionError) after failing to connect for this long; None retries forever.
    give_up_after_seconds: float | None = 120.0
    open_timeout_seconds: float = 10.0
    long_poll_seconds: float = 5.0
    long_poll_parallel: int = 4
    max_frame_bytes: int = 64 * 1024 * 1024


def watch_url(base_url: str, query: dict[str, str] | None = None) -> str:
    """The websocket URL of the status subscription, from the client's http(s) base URL."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValidationError(f"base_url must be http(s)://, got {base_url!r}")
    path = f"{parts.path.rstrip('/')}/budpipeline/executions/watch"
    return urlunsplit((scheme, parts.netloc, path, urlencode(query or {}), ""))


class _NoWebsocket(Exception):
    """The server has no websocket route: use the long-poll."""


class Watched(Protocol):
    """What the watch needs of each structured execution."""

    @property
    def id(self) -> str: ...

    @property
    def is_terminal(self) -> bool: ...


T = TypeVar("T", bound=Watched)


class StatusWatch(Generic[T]):
    """Terminal executions of a growing set of ids, each handed out once by `next()`.

    Use ``async with StatusWatch(client) as watch``; `add(ids)` subscribes, `finish_adding()` says no
    more ids will come, and `next()` returns the next ended execution, or None once every id added
    was handed out after `finish_adding()`. Raises NotFoundError (from `next`) for an id the server
    does not know, and APIConnectionError when the connection cannot be restored. `structure` turns
    each wire execution into what `next()` returns (an `Execution` unless given).
    """

    @overload
    def __init__(
        self: StatusWatch[Execution],
        client: Requester,
        *,
        method: WatchMethod = ...,
        options: WatchOptions | None = ...,
    ) -> None: ...

    @overload
    def __init__(
        self,
        client: Requester,
        *,
        method: WatchMethod = ...,
        options: WatchOptions | None = ...,
        structure: Callable[[Any], T],
    ) -> None: ...

    def __init__(
        self,
        client: Requester,
        *,
        method: WatchMethod = "auto",
        options: WatchOptions | None = None,
        structure: Callable[[Any], Any] = structure_execution,
    ) -> None:
        if method not in ("auto", "websocket", "longpoll"):
            raise ValidationError(f"method must be auto, websocket or longpoll, got {method!r}")
        self._client = client
        self._method = method
        self._structure = structure
        self.options = options or WatchOptions()
        self._wanted: set[str] = set()
        # Handed out already: the server sends an id once per connection, so adding it again could
        # only wait forever. Only the ids are kept (the executions went to the caller).
        self._delivered: set[str] = set()
        self._out: collections.deque[T | BaseException] = collections.deque()
        self._changed = asyncio.Event()
        self._more_ids = asyncio.Event()
        self._adding_done = False
        self._link: Link | None = None
        self._send_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._rng = random.Random()
        self.reconnects = 0
        self.transport: Literal["websocket", "longpoll"] | None = None

    # ------------------------------------------------------------------ caller side

    async def __aenter__(self) -> StatusWatch[T]:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    @property
    def pending(self) -> int:
        """Ids subscribed and not handed out yet."""
        return len(self._wanted)

    async def add(self, ids: Iterable[str]) -> None:
        """Await these ids too (ids already handed out are ignored)."""
        if self._closed:
            raise BudError("this StatusWatch is closed")
        fresh = [i for i in dict.fromkeys(ids) if i not in self._delivered and i not in self._wanted]
        if not fresh:
            return
        self._wanted.update(fresh)
        self._more_ids.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="budai-status-watch")
        link = self._link
        if link is not None:  # if it closed meanwhile, the reader reconnects and subscribes again
            await self._subscribe(link, fresh)

    def finish_adding(self) -> None:
        """No more ids will be added: `next()` returns None once the awaited ones are out."""
        self._adding_done = True
        self._changed.set()

    async def next(self) -> T | None:
        """The next execution that ended; None when all are out and `finish_adding` was called."""
        while True:
            if self._out:
                item = self._out.popleft()
                if isinstance(item, BaseException):
                    raise item
                return item
            if self._adding_done and not self._wanted:
                return None
            if self._task is not None and self._task.done() and not self._out:
                raise BudError("the status watch stopped unexpectedly")
            self._changed.clear()
            await self._changed.wait()

    async def aclose(self) -> None:
        """Stop the watch and close its socket (idempotent)."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ delivery

    def _deliver(self, execution: T) -> None:
        if execution.id not in self._wanted or not execution.is_terminal:
            return
        self._wanted.discard(execution.id)
        self._delivered.add(execution.id)
        self._out.append(execution)
        self._changed.set()

    def _fail_ids(self, ids: Iterable[str]) -> None:
        for execution_id in ids:
            if execution_id in self._wanted:
                self._wanted.discard(execution_id)
                self._out.append(NotFoundError(f"execution {execution_id!r} not found", status_code=404))
        self._changed.set()

    def _fail(self, error: BaseException) -> None:
        self._out.append(error)
        self._changed.set()

    async def _run(self) -> None:
        try:
            if self._method != "longpoll":
                try:
                    await self._run_websocket()
                    return
                except _NoWebsocket:
                    if self._method == "websocket":
                        message = "this server has no status websocket (try method='longpoll')"
                        raise BudError(message) from None
            await self._run_long_poll()
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # handed to the caller through next()
            self._fail(error)

    # ------------------------------------------------------------------ websocket

    async def _run_websocket(self) -> None:
        from budai_async.batch import _watch_link as wire  # late: keeps websockets off the import path

        url = watch_url(self._client.base_url, {"heartbeat": f"{self.options.heartbeat_seconds:g}"})
        headers = websocket_headers(self._client.api_key)
        backoff = ReconnectBackoff(
            what="status watch",
            base=self.options.reconnect_base_seconds,
            cap=self.options.reconnect_max_seconds,
            give_up_after=self.options.give_up_after_seconds,
            rng=self._rng,
        )
        while True:
            try:
                link = await wire.open_link(
                    url,
                    headers,
                    open_timeout=self.options.open_timeout_seconds,
                    max_size=self.options.max_frame_bytes,
                    proxy=self._client.websocket_proxy,
                )
            except wire.NoRoute:
                if self._method == "auto":
                    raise _NoWebsocket() from None
                raise BudError("this server has no status websocket (try method='longpoll')") from None
            except wire.Reconnect:
                pass
            else:
                self.transport = "websocket"
                try:
                    if await self._read(link):
                        backoff.reset()
                finally:
                    self._link = None
                    await link.close()
            await backoff.pause()  # raises APIConnectionError past give_up_after_seconds
            self.reconnects += 1

    async def _subscribe(self, link: Link, ids: Sequence[str]) -> bool:
        async with self._send_lock:
            return await link.send_subscribe(ids, MAX_IDS_PER_FRAME)

    async def _read(self, link: Link) -> bool:
        """Subscribe to everything still awaited, then read frames; True when any frame arrived."""
        from budai_async.batch._watch_link import LinkClosed

        self._link = link
        if not await self._subscribe(link, sorted(self._wanted)):
            return False
        progressed = False
        idle = self.options.heartbeat_seconds * self.options.idle_heartbeats
        while True:
            try:
                async with asyncio.timeout(idle):
                    raw = await link.recv()
            except TimeoutError:
                return progressed
            except LinkClosed as closed:
                code = closed.code
                if code is not None and 4000 <= code < 4999 and code != _CLOSE_LAGGING:
                    raise BudError(f"status watch closed by the server: {closed}") from closed
                return progressed
            progressed = True
            self._handle(raw)

    def _handle(self, raw: str | bytes) -> None:
        try:
            frame = json_loads(raw)
            kind = frame["type"]
        except (ValueError, TypeError, KeyError) as error:
            raise BudError(f"malformed status watch frame: {raw[:200]!r}") from error
        if kind == "executions":
            for item in frame.get("items", []):
                self._deliver(self._structure(item))
        elif kind == "subscribed":
            self._fail_ids(frame.get("unknown") or [])
        elif kind == "error":
            refusal = frame.get("error") or {}
            raise BudError(f"status watch refused a frame: {refusal.get('code')}: {refusal.get('message')}")
        # heartbeat, unsubscribed and frame types added later need nothing

    # ------------------------------------------------------------------ long-poll fallback

    async def _run_long_poll(self) -> None:
        """Ask `POST /executions/wait` about the awaited ids, up to 1,000 per call, a few calls at once."""
        self.transport = "longpoll"
        seconds = self.options.long_poll_seconds
        timeout = self._client.timeout.with_read(seconds + 10.0)
        parallel = asyncio.Semaphore(self.options.long_poll_parallel)

        async def ask(ids: list[str]) -> Any:
            return await self._client.request(
                "POST",
                "/budpipeline/executions/wait",
                json_body={"ids": ids, "timeout": seconds},
                timeout=timeout,
            )

        async def poll(ids: list[str]) -> None:
            nonlocal seconds
            async with parallel:
                try:
                    answer = await ask(ids)
                except UnprocessableEntityError as error:
                    # The server's `--long-poll-max-seconds` is below ours: use its maximum from now on.
                    maximum = advertised_maximum(error.details, "timeout", seconds)
                    if maximum is None:
                        raise
                    seconds = min(seconds, maximum)
                    answer = await ask(ids)
            if not isinstance(answer, dict):
                raise BudError("unexpected answer from /budpipeline/executions/wait")
            for item in answer.get("items") or []:
                self._deliver(self._structure(item))
            self._fail_ids(answer.get("unknown") or [])

        while True:
            if not self._wanted:
                self._more_ids.clear()
                await self._more_ids.wait()
                continue
            ids = sorted(self._wanted)
            groups = [ids[i : i + MAX_IDS_PER_FRAME] for i in range(0, len(ids), MAX_IDS_PER_FRAME)]
            results = await asyncio.gather(*(poll(part) for part in groups), return_exceptions=True)
            for result in results:
                if isinstance(result, APIStatusError) and result.status_code in (404, 405):
                    raise BudError(
                        "this server supports neither the status websocket nor the executions long-poll"
                    ) from result
                if isinstance(result, BaseException):
                    raise result
