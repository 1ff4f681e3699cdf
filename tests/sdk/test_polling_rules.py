"""Timing of `executions.wait` as tables."""

from __future__ import annotations

import pytest

from budai_async._polling import (
    advertised_maximum,
    fallback_poll_delay,
    long_poll_seconds,
    server_ignored_wait,
)


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [(None, 30.0), (100.0, 30.0), (12.5, 12.5), (0.12345, 0.123), (0.0, 0.01), (-1.0, 0.01)],
)
def test_long_poll_seconds(remaining: float | None, expected: float) -> None:
    assert long_poll_seconds(remaining) == expected


def test_long_poll_seconds_within_a_server_maximum() -> None:
    assert long_poll_seconds(100.0, max_chunk=0.25) == 0.25
    assert long_poll_seconds(None, max_chunk=0.0) == 0.0  # a server without long-poll: plain reads
    assert long_poll_seconds(5.0, max_chunk=0.0) == 0.0


def _over(path: str, maximum: object, code: str = "over_limit") -> list[dict[str, object]]:
    return [
        {"path": path, "code": code, "message": "m", "limit": "long_poll_max_seconds", "maximum": maximum}
    ]


@pytest.mark.parametrize(
    ("details", "field", "asked", "expected"),
    [
        (_over("wait", 10), "wait", 30.0, 10.0),
        (_over("wait", 0), "wait", 30.0, 0.0),
        (_over("timeout", 2.5), "timeout", 5.0, 2.5),
        (_over("wait", 10), "timeout", 30.0, None),  # another field
        (_over("wait", 10, "range"), "wait", 30.0, None),  # another fault: raised, not retried
        (_over("wait", 30), "wait", 30.0, None),  # not below what was asked: no loop
        (_over("wait", True), "wait", 30.0, None),
        (_over("wait", "10"), "wait", 30.0, None),
        ({"limit": "x"}, "wait", 30.0, None),
        (None, "wait", 30.0, None),
    ],
)
def test_advertised_maximum(details: object, field: str, asked: float, expected: float | None) -> None:
    assert advertised_maximum(details, field, asked) == expected


@pytest.mark.parametrize(
    ("requested", "elapsed", "changed", "ignored"),
    [
        (30.0, 0.01, False, True),  # came back at once with nothing new: no long-poll there
        (30.0, 0.01, True, False),  # came back at once with news: fine
        (30.0, 29.9, False, False),  # waited as asked
        (30.0, 10.0, False, False),  # the server's own cap (10 s) is shorter than our ask: still a long-poll
        (1.0, 0.6, False, False),
        (0.1, 0.04, False, True),
        (0.0, 0.5, False, True),  # wait=0 (the server's maximum is 0): a plain read, paced
    ],
)
def test_server_ignored_wait(requested: float, elapsed: float, changed: bool, ignored: bool) -> None:
    assert server_ignored_wait(requested=requested, elapsed=elapsed, changed=changed) is ignored


@pytest.mark.parametrize(("polls", "delay"), [(0, 0.25), (1, 0.5), (2, 1.0), (4, 4.0), (5, 5.0), (50, 5.0)])
def test_fallback_poll_delay(polls: int, delay: float) -> None:
    assert fallback_poll_delay(polls) == delay
