"""The retry policy as tables: what is retried, how long to wait, how Retry-After is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from budai_async._retry import (
    RetryPolicy,
    parse_retry_after,
    retry_after_of,
    retry_delay,
    should_retry,
    wait_generator,
)
from budai_async.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BudError,
    ValidationError,
    status_error_for,
)

NOW = datetime(2026, 3, 14, 10, 0, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_retries=3, initial_delay=0.5, max_delay=8.0, max_retry_after=60.0)


def status_error(
    status: int, *, headers: dict[str, str] | None = None, body: object = None
) -> APIStatusError:
    return status_error_for(status)("boom", status_code=status, headers=headers, body=body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("0", 0.0),
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("Sat, 14 Mar 2026 10:00:30 GMT", 30.0),
        ("Sat, 14 Mar 2026 09:59:00 GMT", 0.0),  # a date in the past: go now
        ("Sun, 15 Mar 2026 20:00:00 GMT", 86400.0),  # far dates are capped at one day
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (APIConnectionError("reset"), True),
        (APITimeoutError("slow"), True),
        (status_error(408), True),
        (status_error(429), True),
        (status_error(500), True),
        (status_error(502), True),
        (status_error(503), True),
        (status_error(504), True),
        (status_error(400), False),
        (status_error(401), False),
        (status_error(403), False),
        (status_error(404), False),
        (status_error(409), False),
        (status_error(409, body={"error": {"code": "idempotency_key_in_progress"}}), True),
        (status_error(409, body={"error": {"code": "conflict"}}), False),
        (status_error(413), False),
        (status_error(422), False),
        (status_error(429, headers={"Retry-After": "60"}), True),
        (status_error(429, headers={"retry-after": "61"}), False),  # longer than the policy allows
        (status_error(503, headers={"Retry-After": "120"}), False),
        (ValidationError("bad"), False),
        (BudError("other"), False),
        (ValueError("not ours"), False),
    ],
)
def test_should_retry(error: BaseException, retry: bool) -> None:
    assert should_retry(error, policy=POLICY, now=NOW) is retry


def test_rate_limit_retry_after_attribute_wins_over_header() -> None:
    from budai_async.errors import RateLimitError

    error = RateLimitError("slow down", retry_after=2.0, status_code=429, headers={"Retry-After": "9"})
    assert retry_after_of(error, now=NOW) == 2.0
    assert retry_after_of(status_error(503, headers={"Retry-After": "4"}), now=NOW) == 4.0
    assert retry_after_of(APIConnectionError(), now=NOW) is None


@pytest.mark.parametrize(
    ("attempt", "retry_after", "draw", "expected"),
    [
        (1, None, 0.0, 0.0),
        (1, None, 0.999, 0.4995),  # ceiling 0.5
        (2, None, 0.5, 0.5),  # ceiling 1.0
        (3, None, 0.5, 1.0),  # ceiling 2.0
        (5, None, 1.0, 8.0),  # ceiling 8.0 = max_delay
        (9, None, 0.5, 4.0),  # still capped at max_delay
        (1, 3.0, 0.0, 3.0),  # Retry-After is obeyed exactly, no jitter
        (4, 0.0, 0.9, 0.0),
        (1, 100.0, 0.5, 60.0),  # never more than max_retry_after
    ],
)
def test_retry_delay(attempt: int, retry_after: float | None, draw: float, expected: float) -> None:
    assert retry_delay(attempt, policy=POLICY, retry_after=retry_after, draw=draw) == pytest.approx(expected)


def test_wait_generator_follows_backoff_protocol() -> None:
    draws = iter([1.0, 1.0, 1.0])
    gen = wait_generator(POLICY, clock=lambda: NOW, rng=lambda: next(draws))
    assert gen.send(None) == 0.0  # priming, discarded by backoff
    assert gen.send(APIConnectionError()) == 0.5
    assert gen.send(status_error(429, headers={"Retry-After": "7"})) == 7.0
    assert gen.send(status_error(503)) == 2.0  # third retry: ceiling 0.5 * 2**2


def test_wait_generator_reads_http_date_against_clock() -> None:
    gen = wait_generator(POLICY, clock=lambda: NOW, rng=lambda: 0.0)
    gen.send(None)
    when = (NOW + timedelta(seconds=12)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert gen.send(status_error(503, headers={"Retry-After": when})) == 12.0


def test_policy_rejects_negative_values() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError):
        RetryPolicy(initial_delay=-0.1)
