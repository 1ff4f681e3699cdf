"""Pure rules of callback delivery: which event an execution sends, its body, when to try again.

No clock, no randomness and no I/O in here: the outbox worker passes `now` and a random number in,
so every rule is a table-driven test (DESIGN §2). The retry schedule is a list of delays; entry
``k`` is the wait before attempt ``k + 1`` (the first entry, usually 0, is the wait before the first
attempt), so a schedule of eight entries allows eight attempts.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from budai_async._convert import format_datetime, to_json_dict
from budai_async.models import CallbackEvent, Execution, ExecutionStatus
from budai_async.webhooks import WebhookVerificationError, decode_secret

__all__ = [
    "DEFAULT_JITTER",
    "DEFAULT_RETRY_SCHEDULE",
    "EVENT_COMPLETED",
    "EVENT_FAILED",
    "AttemptOutcome",
    "DeliveryStatus",
    "build_payload",
    "callback_for",
    "check_schedule",
    "check_secret",
    "classify",
    "delivery_id",
    "encode_body",
    "format_schedule",
    "jittered",
    "next_delay",
    "parse_retry_after",
    "parse_schedule",
    "secret_fingerprint",
]

EVENT_COMPLETED = "execution.completed"
EVENT_FAILED = "execution.failed"

#: now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 27.5 hours of attempts in all.
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
#: Each delay is spread uniformly over +-10 %, so endpoints that failed together are not retried together.
DEFAULT_JITTER = 0.1

_FAILED_STATUSES = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT, ExecutionStatus.CANCELLED})
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ms|s|m|h|d)?\s*", re.ASCII)


class DeliveryStatus(StrEnum):
    """Where a delivery stands; only `pending` deliveries are ever sent again."""

    PENDING = "pending"
    DELIVERED = "delivered"
    GONE = "gone"  # the endpoint answered 410: it asked us to stop
    FAILED = "failed"  # every attempt of the schedule failed


class AttemptOutcome(StrEnum):
    """What one HTTP attempt means for its delivery."""

    DELIVERED = "delivered"
    RETRY = "retry"
    GONE = "gone"


def classify(status_code: int | None) -> AttemptOutcome:
    """Decide from an attempt's HTTP status (None: timeout or connection error) whether to retry.

    Any 2xx delivers; 410 Gone stops for good; everything else - other 4xx, 5xx, 3xx (redirects
    are not followed), timeouts and connection errors - is retried while the schedule lasts.
    """
    if status_code is None:
        return AttemptOutcome.RETRY
    if 200 <= status_code < 300:
        return AttemptOutcome.DELIVERED
    if status_code == 410:
        return AttemptOutcome.GONE
    return AttemptOutcome.RETRY


def jittered(delay: float, fraction: float, rand: float) -> float:
    """Spread `delay` over ``delay * (1 +- fraction)``; `rand` is uniform in [0, 1). Zero stays zero."""
    return max(0.0, delay * (1.0 + fraction * (2.0 * rand - 1.0)))


def next_delay(
    attempts_made: int,
    schedule: Sequence[float],
    *,
    rand: float,
    jitter: float = DEFAULT_JITTER,
    retry_after: float | None = None,
) -> float | None:
    """Seconds to wait before the next attempt after `attempts_made` attempts, or None when exhausted.

    A `Retry-After` the endpoint sent pushes the attempt later (never sooner than the schedule),
    capped at the schedule's longest step so an endpoint cannot park a delivery forever.
    """
    if attempts_made >= len(schedule):
        return None
    delay = jittered(schedule[attempts_made], jitter, rand)
    if retry_after is not None:
        delay = max(delay, min(retry_after, max(schedule)))
    return delay


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); None when absent or junk."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def check_schedule(schedule: Sequence[float]) -> tuple[float, ...]:
    """Return `schedule` as a tuple; raises ValueError when it is empty or has a negative/infinite step."""
    steps = tuple(float(step) for step in schedule)
    if not steps:
        raise ValueError("the retry schedule needs at least one step")
    for index, step in enumerate(steps):
        if not math.isfinite(step) or step < 0:
            raise ValueError(f"retry schedule step {index + 1} must be a finite number >= 0, got {step}")
    return steps


def check_secret(secret: str | None) -> str | None:
    """Return `secret` when it is a usable ``whsec_<base64>`` key (or None); raises ValueError otherwise."""
    if secret is not None:
        try:
            decode_secret(secret)
        except WebhookVerificationError as exc:
            raise ValueError(str(exc)) from None
    return secret


def parse_schedule(text: str) -> tuple[float, ...]:
    """Parse ``"0,5s,5m,30m,2h"`` (units ms/s/m/h/d; a bare number is seconds) into delays in seconds.

    Raises ValueError naming the step that does not parse.
    """
    steps: list[float] = []
    for index, part in enumerate(text.split(","), start=1):
        match = _DURATION.fullmatch(part)
        if match is None:
            raise ValueError(
                f"retry schedule step {index} ({part.strip()!r}) is not a duration like 5s, 5m, 2h"
            )
        steps.append(float(match.group(1)) * _UNITS[match.group(2) or "s"])
    return check_schedule(steps)


def format_schedule(schedule: Sequence[float]) -> str:
    """The inverse of `parse_schedule`, for help texts and logs (``0,5s,5m,30m,2h``)."""
    parts = []
    for step in schedule:
        for unit in ("d", "h", "m", "s"):
            if step >= _UNITS[unit] and (step / _UNITS[unit]).is_integer():
                parts.append(f"{int(step / _UNITS[unit])}{unit}")
                break
        else:
            parts.append("0" if step == 0 else f"{step:g}s")
    return ",".join(parts)


def callback_for(execution: Execution) -> tuple[str, str] | None:
    """The ``(event type, url)`` a terminal execution sends, or None (not terminal, or no url for it).

    `completed` goes to ``on_complete``; `failed`, `timeout` and `cancelled` go to ``on_failure``.
    """
    if execution.status == ExecutionStatus.COMPLETED:
        event_type, key = EVENT_COMPLETED, "on_complete"
    elif execution.status in _FAILED_STATUSES:
        event_type, key = EVENT_FAILED, "on_failure"
    else:
        return None
    url = execution.callbacks.get(key)
    return (event_type, url) if url else None


def delivery_id(execution_id: str, event_type: str) -> str:
    """The ``webhook-id`` of an execution's event: stable, so every attempt and every sweep agree."""
    return f"msg_{execution_id}_{event_type.rpartition('.')[2]}"


def build_payload(execution: Execution, event_type: str, *, timestamp: str) -> dict[str, Any]:
    """The JSON body of a callback: the `CallbackEvent` fields plus a few more about the execution.

    `timestamp` is when the event happened (ISO-8601); it does not change between attempts.
    """
    event = CallbackEvent(
        type=event_type,
        execution_id=execution.id,
        pipeline_id=execution.pipeline_id,
        status=execution.status,
        outputs=dict(execution.outputs),
        error=execution.error,
        tags=list(execution.tags),
        params=dict(execution.params),
        completed_at=execution.completed_at,
        duration_seconds=execution.duration_seconds,
    )
    payload: dict[str, Any] = to_json_dict(event)
    payload.update(
        {
            "timestamp": timestamp,
            "priority": str(execution.priority),
            "created_at": _iso(execution.created_at),
            "started_at": _iso(execution.started_at),
            "retry_of": execution.retry_of,
            "steps": _step_statuses(execution),
        }
    )
    return payload


def _iso(value: Any) -> str | None:
    return None if value is None else format_datetime(value)


def _step_statuses(execution: Execution) -> Mapping[str, str]:
    """``{step_id: status}``: enough to see which step failed without the steps' outputs twice."""
    return {step_id: str(step.status) for step_id, step in execution.steps.items()}


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed, stored and sent on every attempt."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def secret_fingerprint(secret: str) -> str:
    """A short, non-reversible tag of `secret` (``sha256:`` + 12 hex digits), safe to print or log,
    so an operator can tell which secret a server and a receiver hold without showing it."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]
