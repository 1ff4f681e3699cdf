"""The wait between reconnects of a websocket reader (log follow, status watch), in one place.

Both readers back off the same way: capped exponential delay with equal jitter
(`_logcursor.reconnect_delay`), reset once a connection delivered something, and give up with
`APIConnectionError` after `give_up_after` seconds without a working connection.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from budai_async.errors import APIConnectionError
from budai_async.logs.cursor import reconnect_delay

__all__ = ["ReconnectBackoff"]

_ws_log = logging.getLogger("budai_async.ws")


class ReconnectBackoff:
    """Backoff state of one reconnect loop: `reset()` after progress, `await pause()` after a failure."""

    def __init__(
        self, *, what: str, base: float, cap: float, give_up_after: float | None, rng: random.Random
    ) -> None:
        self._what = what
        self._base = base
        self._cap = cap
        self._give_up_after = give_up_after
        self._rng = rng
        self._attempt = 0
        self._failing_since: float | None = None

    def reset(self) -> None:
        """The connection worked: the next failure starts the backoff afresh."""
        self._attempt, self._failing_since = 0, None

    async def pause(self) -> None:
        """Sleep before the next attempt; raises APIConnectionError past the give-up limit."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        limit = self._give_up_after
        if limit is not None and now - self._failing_since > limit:
            raise APIConnectionError(f"{self._what}: no connection for {limit:g} s")
        delay = reconnect_delay(self._attempt, base=self._base, cap=self._cap, rand=self._rng.random())
        self._attempt += 1
        _ws_log.info(
            "%s: connection lost, reconnecting in %.1f s (attempt %d)", self._what, delay, self._attempt
        )
        await asyncio.sleep(delay)
