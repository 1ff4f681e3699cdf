"""The clock the trigger loops read: the system clock in production, a fake one in tests.

Tests drive time by hand (`FakeClock.advance`), so nothing waits for real cron minutes and the
webhook replay window is checked against a known `now`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol

from aiohttp import web

__all__ = ["CLOCK", "Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC now."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...


class SystemClock:
    """The wall clock and `asyncio.sleep`."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told; sleepers wake when `advance` passes their deadline."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + timedelta(seconds=max(0.0, seconds)), future))
        await future

    def set(self, when: datetime) -> None:
        """Jump to `when` and wake every sleeper whose deadline has passed."""
        self._now = when
        keep: list[tuple[datetime, asyncio.Future[None]]] = []
        for deadline, future in self._sleepers:
            if future.done():
                continue
            if deadline <= when:
                future.set_result(None)
            else:
                keep.append((deadline, future))
        self._sleepers = keep

    def advance(self, seconds: float) -> None:
        self.set(self._now + timedelta(seconds=seconds))


CLOCK: web.AppKey[Clock] = web.AppKey("budai_trigger_clock", Clock)
