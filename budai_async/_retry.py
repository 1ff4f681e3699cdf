"""Retry policy as pure functions: what to retry, how long to wait, and how to read `Retry-After`.

The one retry loop (`budai_async._client._retry`, entered after a first failed attempt) asks these;
keeping them free of I/O and of the clock (``now`` and the jitter draw are arguments) lets tests pin
every case in a table. The wait generator keeps `backoff`'s protocol, so either can drive it.
"""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Callable, Generator, Mapping
from datetime import UTC, datetime

import attrs

from budai_async.errors import APIConnectionError, APIStatusError, RateLimitError, ValidationError

__all__ = [
    "IN_PROGRESS_CODE",
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "header_value",
    "parse_retry_after",
    "retry_after_of",
    "retry_delay",
    "should_retry",
    "wait_generator",
]

RETRYABLE_STATUSES = frozenset({408, 429})  # plus every 5xx
# A 409 is a real conflict and is not retried, except this one: the same Idempotency-Key is still
# being handled (our first attempt timed out on our side), so asking again later gets its answer.
IN_PROGRESS_CODE = "idempotency_key_in_progress"
_MAX_HTTP_DATE_SECONDS = 24 * 3600.0


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a client retries: attempts after the first, the backoff curve, and the Retry-After cap.

    A server asking (via Retry-After) for a longer pause than `max_retry_after` is not retried: the
    caller gets the error at once, with `retry_after` set, instead of a call that hangs for minutes.
    """

    max_retries: int = attrs.field(default=2, validator=lambda _, a, v: _check(a.name, v, whole=True))
    initial_delay: float = attrs.field(default=0.5, validator=lambda _, a, v: _check(a.name, v))
    max_delay: float = attrs.field(default=8.0, validator=lambda _, a, v: _check(a.name, v))
    max_retry_after: float = attrs.field(default=60.0, validator=lambda _, a, v: _check(a.name, v))


_OPTION_NAMES = {"initial_delay": "retry_initial_delay", "max_delay": "retry_max_delay"}


def _check(field: str, value: object, *, whole: bool = False) -> None:
    """A retry setting is a number >= 0 (`max_retries` a whole one): a ValidationError naming the
    client option otherwise, not attrs' bare comparison error."""
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value >= 0:
        what = "a whole number" if whole else "a number of seconds"
        name = _OPTION_NAMES.get(field, field)
        raise ValidationError(f"{name} must be {what} >= 0, got {value!r}")


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup over any mapping (errors keep headers as a plain dict)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date; None when absent or bad.

    Dates in the past give 0; negative or non-finite numbers are treated as absent.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - now).total_seconds()
    return min(max(delta, 0.0), _MAX_HTTP_DATE_SECONDS)


def retry_after_of(error: BaseException, *, now: datetime) -> float | None:
    """The pause a failed attempt's answer asked for (429's `retry_after`, or a 503's header)."""
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        return error.retry_after
    if isinstance(error, APIStatusError):
        return parse_retry_after(header_value(error.headers, "Retry-After"), now=now)
    return None


def should_retry(error: BaseException, *, policy: RetryPolicy, now: datetime) -> bool:
    """True for connection errors, 408, 429, 5xx and an in-progress idempotent request (409).

    False when the server asked (Retry-After) for a longer pause than the policy allows.
    """
    if isinstance(error, APIConnectionError):
        return True
    if not isinstance(error, APIStatusError):
        return False
    status = error.status_code
    in_progress = status == 409 and error.code == IN_PROGRESS_CODE
    if status not in RETRYABLE_STATUSES and status < 500 and not in_progress:
        return False
    retry_after = retry_after_of(error, now=now)
    return retry_after is None or retry_after <= policy.max_retry_after


def retry_delay(attempt: int, *, policy: RetryPolicy, retry_after: float | None, draw: float) -> float:
    """Seconds before retry number `attempt` (1-based): Retry-After when given, else full jitter.

    Full jitter (AWS architecture blog): uniform in ``[0, min(max_delay, initial * 2**(attempt-1))]``;
    `draw` is the uniform [0, 1) sample, passed in so the function stays deterministic.
    """
    if retry_after is not None:
        return min(retry_after, policy.max_retry_after)
    ceiling = min(policy.max_delay, policy.initial_delay * (2.0 ** max(attempt - 1, 0)))
    return draw * ceiling


def wait_generator(
    policy: RetryPolicy,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    rng: Callable[[], float] = random.random,
) -> Generator[float, BaseException | None, None]:
    """A `backoff` wait generator: backoff sends each failed attempt's exception, we yield the pause.

    backoff primes it with ``send(None)``; every later ``send(error)`` returns `retry_delay` for it.
    Pass ``jitter=None`` to backoff, since the jitter is already applied here.
    """
    error = yield 0.0  # the priming send's answer, discarded by backoff
    attempt = 0
    while True:
        attempt += 1
        retry_after = retry_after_of(error, now=clock()) if error is not None else None
        error = yield retry_delay(attempt, policy=policy, retry_after=retry_after, draw=rng())
