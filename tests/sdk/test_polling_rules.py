"""Timing of `executions.wait` as tables."""

from __future__ import annotations

import pytest

from budai_async._polling import fallback_poll_delay, long_poll_seconds, server_ignored_wait


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [(None, 30.0), (100.0, 30.0), (12.5, 12.5), (0.12345, 0.123), (0.0, 0.01), (-1.0, 0.01)],
)
def test_long_poll_seconds(remaining: float | None, expected: float) -> None:
    assert long_poll_seconds(remaining) == expected


@pytest.mark.parametrize(
    ("requested", "elapsed", "changed", "ignored"),
    [
        (30.0, 0.01, False, True),  # came back at once with nothing new: no long-poll there
        (30.0, 0.01, True, False),  # came back at once with news: fine
        (30.0, 29.9, False, False),  # waited as asked
        (30.0, 10.0, False, False),  # the server's own cap (10 s) is shorter than our ask: still a long-poll
        (1.0, 0.6, False, False),
        (0.1, 0.04, False, True),
    ],
)
def test_server_ignored_wait(requested: float, elapsed: float, changed: bool, ignored: bool) -> None:
    assert server_ignored_wait(requested=requested, elapsed=elapsed, changed=changed) is ignored


@pytest.mark.parametrize(("polls", "delay"), [(0, 0.25), (1, 0.5), (2, 1.0), (4, 4.0), (5, 5.0), (50, 5.0)])
def test_fallback_poll_delay(polls: int, delay: float) -> None:
    assert fallback_poll_delay(polls) == delay
