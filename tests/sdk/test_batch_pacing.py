"""The shared cooldown and the rate limiter: arithmetic on a fake clock, and waiting together."""

from __future__ import annotations

import asyncio
import time

import pytest

from budai_async.batch._pacing import MAX_COOLDOWN, Cooldown, RateLimiter, cooldown_delay


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("retry_after", "consecutive", "expected"),
    [
        (2.0, 1, 2.0),
        (2.0, 5, 2.0),  # the server's word wins over our own backoff
        (0.0, 3, 0.0),
        (-4.0, 1, 0.0),
        (10_000.0, 1, MAX_COOLDOWN),
        (None, 1, 0.5),
        (None, 2, 1.0),
        (None, 3, 2.0),
        (None, 0, 0.5),
        (None, 50, MAX_COOLDOWN),
    ],
)
def test_cooldown_delay(retry_after: float | None, consecutive: int, expected: float) -> None:
    assert cooldown_delay(retry_after, consecutive) == expected


def test_cooldown_deadline_only_moves_forward() -> None:
    clock = FakeClock()
    cooldown = Cooldown(clock)
    assert cooldown.remaining() == 0
    assert cooldown.trip(3.0) == 3.0
    clock.now += 1
    assert cooldown.remaining() == pytest.approx(2.0)
    cooldown.trip(0.5)  # a shorter Retry-After from a later answer does not shorten the pause
    assert cooldown.remaining() == pytest.approx(2.0)
    cooldown.trip(5.0)
    assert cooldown.remaining() == pytest.approx(5.0)
    assert cooldown.pauses == 3
    clock.now += 10
    assert cooldown.remaining() == 0


def test_cooldown_backoff_restarts_after_success() -> None:
    clock = FakeClock()
    cooldown = Cooldown(clock)
    assert [cooldown.trip(None) for _ in range(3)] == [0.5, 1.0, 2.0]
    cooldown.reset()
    assert cooldown.trip(None) == 0.5


async def test_all_waiters_resume_after_an_extension() -> None:
    cooldown = Cooldown()
    cooldown.trip(0.05)
    woke: list[float] = []
    start = time.monotonic()

    async def worker() -> None:
        await cooldown.wait()
        woke.append(time.monotonic() - start)

    tasks = [asyncio.create_task(worker()) for _ in range(5)]
    await asyncio.sleep(0.02)
    cooldown.trip(0.1)  # pushed to ~0.12 s while they sleep
    await asyncio.gather(*tasks)
    assert len(woke) == 5
    assert min(woke) >= 0.11


@pytest.mark.parametrize(
    ("rate", "bookings", "expected_waits"),
    [
        (None, [100, 100], [0.0, 0.0]),
        (10.0, [5, 5, 10], [0.0, 0.5, 1.0]),
        (100.0, [1, 1, 1], [0.0, 0.01, 0.02]),
        (10.0, [0, 10], [0.0, 0.0]),
    ],
)
def test_rate_limiter_books_slots(
    rate: float | None, bookings: list[int], expected_waits: list[float]
) -> None:
    limiter = RateLimiter(rate, FakeClock())
    assert [limiter.reserve(n) for n in bookings] == pytest.approx(expected_waits)


def test_rate_limiter_idle_time_is_not_banked() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, clock)
    assert limiter.reserve(10) == 0
    clock.now += 60  # a minute idle does not allow a burst of 600 afterwards
    assert limiter.reserve(10) == 0
    assert limiter.reserve(10) == pytest.approx(1.0)


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_rate_limiter_rejects_non_positive_rates(rate: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate)
