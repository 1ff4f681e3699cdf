"""The status watch's one websocket, the only place it touches the `websockets` package.

`open_link` turns handshake answers into our errors (or `Reconnect` / `NoRoute`), `Link` sends
subscribe frames and receives text, and every `websockets` exception becomes `LinkClosed` or
`Reconnect` here, so `budai_async.batch._watch` reasons about the protocol only. Imported lazily by the
watch, so importing the SDK does not import `websockets`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from budai_async._responses import error_from_response
from budai_async.errors import BudError

_ws_log = logging.getLogger("budai_async.ws")

__all__ = ["Link", "LinkClosed", "NoRoute", "Reconnect", "open_link"]

_RETRYABLE_HANDSHAKE = frozenset({408, 425, 429})


class Reconnect(Exception):
    """The connection could not be made or broke in a way reconnecting may cure."""


class NoRoute(Exception):
    """The server answered the handshake with 404/405: it has no watch websocket."""


class LinkClosed(Exception):
    """The peer closed the socket; `code` is its close code (None when the connection just broke)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


class Link:
    """One open websocket of a watch."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws

    async def send_subscribe(self, ids: Sequence[str], per_frame: int) -> bool:
        """Send subscribe frames of up to `per_frame` ids; False when the socket closed meanwhile."""
        try:
            for start in range(0, len(ids), per_frame):
                frame = {"type": "subscribe", "ids": list(ids[start : start + per_frame])}
                await self._ws.send(json.dumps(frame, separators=(",", ":")))
        except ConnectionClosed:
            return False
        return True

    async def recv(self) -> str | bytes:
        """The next frame; raises LinkClosed when the socket is closed."""
        try:
            return await self._ws.recv()
        except ConnectionClosed as closed:
            received = closed.rcvd
            raise LinkClosed(
                received.code if received else None, received.reason if received else ""
            ) from closed

    async def close(self) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            await self._ws.close()


async def open_link(
    url: str, headers: Mapping[str, str], *, open_timeout: float, max_size: int, proxy: str | None = None
) -> Link:
    """Open the watch websocket; raises NoRoute, Reconnect, or our APIStatusError for the handshake."""
    _ws_log.info("connecting status watch %s", url.partition("?")[0])
    try:
        ws = await connect(
            url,
            additional_headers=dict(headers),
            proxy=proxy,
            open_timeout=open_timeout,
            ping_interval=None,  # the server's heartbeat frames prove the connection alive
            max_size=max_size,
            close_timeout=2.0,
        )
    except InvalidStatus as error:
        response = error.response
        status = response.status_code
        if status in (404, 405):
            raise NoRoute() from error
        if status in _RETRYABLE_HANDSHAKE or status >= 500:
            raise Reconnect() from error
        raise error_from_response(
            status,
            dict(response.headers.raw_items()),
            bytes(response.body or b""),
            now=datetime.now(UTC),
            context="status watch",
        ) from error
    except InvalidURI as error:
        raise BudError(f"invalid status watch URL {url!r}: {error}") from error
    except (OSError, InvalidHandshake, TimeoutError) as error:
        raise Reconnect() from error
    return Link(ws)
