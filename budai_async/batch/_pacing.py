"""Pacing shared by every batch worker: one cooldown after a 429 and one rate limiter.

Both keep a single deadline on an injectable monotonic clock; the arithmetic is pure (tested from
tables with a fake clock) and `wait()` only sleeps until the deadline, re-reading it after each sleep
because another worker may have pushed it further meanwhile. So one 429 pauses every worker until
the server's `Retry-After` has passed, instead of each worker hammering the server on its own timer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["Cooldown", "RateLimiter", "cooldown_delay"]

Clock = Callable[[], float]

DEFAULT_COOLDOWN = 0.5
MAX_COOLDOWN = 30.0


def cooldown_delay(retry_after: float | None, consecutive: int) -> float:
    """How long everyone pauses after the `consecutive`-th 429 in a row (1 = first).

    The server's Retry-After wins when given (capped at MAX_COOLDOWN, floored at 0); otherwise the
    pause doubles from DEFAULT_COOLDOWN per consecutive 429, up to MAX_COOLDOWN.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_COOLDOWN)
    return float(min(DEFAULT_COOLDOWN * 2 ** max(consecutive - 1, 0), MAX_COOLDOWN))


class Cooldown:
    """A pause every worker honours before its next request; any worker can extend it."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0
        self.consecutive = 0
        self.pauses = 0

    def remaining(self) -> float:
        """Seconds left in the current pause (0 when none)."""
        return max(self._until - self._clock(), 0.0)

    def trip(self, retry_after: float | None) -> float:
        """Record a 429 and push the shared deadline; returns the pause it asked for."""
        self.consecutive += 1
        self.pauses += 1
        delay = cooldown_delay(retry_after, self.consecutive)
        self._until = max(self._until, self._clock() + delay)
        return delay

    def reset(self) -> None:
        """A request went through: the next 429 starts the backoff from the beginning."""
        self.consecutive = 0

    async def wait(self) -> None:
        """Sleep until no pause is in force (re-checked after each sleep: the pause may have grown)."""
        left = self.remaining()
        while left > 0:
            await asyncio.sleep(left)
            left = self.remaining()


class RateLimiter:
    """Spread submissions to at most `rate` items per second (virtual scheduling, no bursts).

    `reserve(n)` books the next free slot for n items and returns how long the caller waits for it;
    a booking of n items moves the next free slot n/rate seconds on. `rate=None` disables limiting.
    """

    def __init__(self, rate: float | None, clock: Clock = time.monotonic) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate_limit must be > 0, got {rate}")
        self.rate = rate
        self._clock = clock
        self._next = 0.0

    def reserve(self, n: int) -> float:
        if self.rate is None or n <= 0:
            return 0.0
        now = self._clock()
        start = max(now, self._next)
        self._next = start + n / self.rate
        return start - now

    async def acquire(self, n: int) -> None:
        """Wait for this caller's slot for n items."""
        delay = self.reserve(n)
        if delay > 0:
            await asyncio.sleep(delay)
