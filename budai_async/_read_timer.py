"""The read timeout (`Timeout.read`, aiohttp's ``sock_read``) on one lazily moved timer per connection.

aiohttp keeps the gap-between-reads timeout by cancelling and re-creating an asyncio timer on every
request start, every chunk read and every response end. asyncio's timer heap compares handles in
Python and keeps cancelled ones until it rebuilds, so that churn was about a tenth of the CPU of a
small GET (docs/benchmarks.md, "SDK"). Here a connection keeps one timer: reads only move its
deadline forward, the end of a response clears it, and when the timer fires early it re-arms for
the deadline it finds. The timeout fires at the same moment as aiohttp's would; a connection that
sits idle in the pool lets its timer lapse once and then has none.

This leans on `aiohttp.client_proto.ResponseHandler`'s private timer methods. `install` checks
they are there and otherwise leaves the connector as it is (stock aiohttp, the same behaviour at
the old cost); `tests/sdk/test_read_timer.py` fails if a new aiohttp drops the hook.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler

__all__ = ["LazyReadTimeoutHandler", "install"]

_HOOKS = ("_reschedule_timeout", "_drop_timeout", "_on_read_timeout", "_read_timeout", "_read_timeout_handle")


class LazyReadTimeoutHandler(ResponseHandler):
    """aiohttp's response protocol with the read timer moved lazily instead of re-created."""

    _read_deadline: float | None = None

    def _reschedule_timeout(self) -> None:
        timeout = self._read_timeout
        if not timeout:
            self._read_deadline = None
            return
        loop = self._loop
        deadline = self._read_deadline = loop.time() + timeout
        handle = self._read_timeout_handle
        if handle is None or deadline < handle.when():  # a shorter timeout than the armed one
            if handle is not None:
                handle.cancel()
            self._read_timeout_handle = loop.call_at(deadline, self._on_read_timeout)

    def _drop_timeout(self) -> None:
        self._read_deadline = None  # the armed timer, if any, lapses when it fires

    def _on_read_timeout(self) -> None:
        deadline = self._read_deadline
        if deadline is None:  # the response ended (or reading paused) since the timer was armed
            self._read_timeout_handle = None
            return
        loop = self._loop
        if loop.time() < deadline:  # data arrived since: wait for the moved deadline
            self._read_timeout_handle = loop.call_at(deadline, self._on_read_timeout)
            return
        self._read_timeout_handle = self._read_deadline = None
        super()._on_read_timeout()

    def connection_lost(self, exc: BaseException | None) -> None:
        handle = self._read_timeout_handle
        if handle is not None:  # a closed connection must not stay referenced by the loop's heap
            handle.cancel()
            self._read_timeout_handle = None
        super().connection_lost(exc)


def install(connector: aiohttp.BaseConnector, loop: asyncio.AbstractEventLoop) -> bool:
    """Make `connector`'s new connections use `LazyReadTimeoutHandler`; False if aiohttp lacks the hook."""
    factory: Any = getattr(connector, "_factory", None)
    if not (isinstance(factory, functools.partial) and factory.func is ResponseHandler):
        return False
    probe = ResponseHandler(loop)  # the timer's attributes are set per instance
    if not all(hasattr(probe, name) for name in _HOOKS):
        return False
    patched: Any = connector  # `_factory` is typed for aiohttp's own class
    patched._factory = functools.partial(LazyReadTimeoutHandler, *factory.args, **factory.keywords)
    return True
