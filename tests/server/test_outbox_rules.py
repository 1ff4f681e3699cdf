"""The pure callback rules, from tables: retryable answers, schedule, jitter, Retry-After, payloads."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from email.utils import format_datetime as http_date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from budai_async.models import Execution, ExecutionStatus, StepRun, StepStatus
from budai_server.cli import main
from budai_server.config import ServerConfig
from budai_server.outbox.rules import (
    DEFAULT_RETRY_SCHEDULE,
    AttemptOutcome,
    build_payload,
    callback_for,
    check_schedule,
    check_secret,
    classify,
    delivery_id,
    encode_body,
    format_schedule,
    jittered,
    next_delay,
    parse_retry_after,
    parse_schedule,
)
from receiver.events import parse_event

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
URLS = {"on_complete": "http://rx/ok", "on_failure": "http://rx/fail"}
WHEN = datetime(2025, 3, 1, 12, 0, 30, 250000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status_code", "outcome"),
    [
        (200, AttemptOutcome.DELIVERED),
        (201, AttemptOutcome.DELIVERED),
        (202, AttemptOutcome.DELIVERED),
        (204, AttemptOutcome.DELIVERED),
        (299, AttemptOutcome.DELIVERED),
        (410, AttemptOutcome.GONE),
        (None, AttemptOutcome.RETRY),  # timeout or connection error
        (100, AttemptOutcome.RETRY),
        (301, AttemptOutcome.RETRY),  # redirects are not followed
        (302, AttemptOutcome.RETRY),
        (400, AttemptOutcome.RETRY),
        (401, AttemptOutcome.RETRY),  # a wrong secret can be fixed on the receiving side
        (404, AttemptOutcome.RETRY),
        (409, AttemptOutcome.RETRY),
        (413, AttemptOutcome.RETRY),
        (429, AttemptOutcome.RETRY),
        (500, AttemptOutcome.RETRY),
        (502, AttemptOutcome.RETRY),
        (503, AttemptOutcome.RETRY),
        (504, AttemptOutcome.RETRY),
    ],
)
def test_classify(status_code: int | None, outcome: AttemptOutcome) -> None:
    assert classify(status_code) is outcome


@pytest.mark.parametrize(
    ("delay", "fraction", "rand", "expected"),
    [
        (10.0, 0.1, 0.0, 9.0),
        (10.0, 0.1, 0.5, 10.0),
        (10.0, 0.1, 0.75, 10.5),
        (10.0, 0.1, 1.0, 11.0),
        (10.0, 0.0, 0.9, 10.0),
        (0.0, 0.1, 0.9, 0.0),
        (300.0, 1.0, 0.0, 0.0),
        (300.0, 1.0, 1.0, 600.0),
    ],
)
def test_jittered(delay: float, fraction: float, rand: float, expected: float) -> None:
    assert jittered(delay, fraction, rand) == pytest.approx(expected)


@given(st.floats(0, 1e6), st.floats(0, 1), st.floats(0, 1, exclude_max=True))
def test_jitter_stays_in_band(delay: float, fraction: float, rand: float) -> None:
    value = jittered(delay, fraction, rand)
    assert delay * (1 - fraction) - 1e-6 <= value <= delay * (1 + fraction) + 1e-6


def test_default_schedule_is_the_documented_one() -> None:
    assert DEFAULT_RETRY_SCHEDULE == (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)


@pytest.mark.parametrize(
    ("attempts_made", "rand", "retry_after", "expected"),
    [
        (1, 0.5, None, 5.0),  # after the first attempt: 5 s
        (2, 0.5, None, 300.0),
        (3, 0.5, None, 1800.0),
        (4, 0.5, None, 7200.0),
        (5, 0.5, None, 18000.0),
        (6, 0.5, None, 36000.0),
        (7, 0.5, None, 36000.0),
        (8, 0.5, None, None),  # eight attempts made: exhausted
        (9, 0.5, None, None),
        (1, 0.0, None, 4.5),  # -10 %
        (1, 1.0, None, 5.5),  # +10 %
        (1, 0.5, 60.0, 60.0),  # Retry-After later than the schedule wins
        (2, 0.5, 60.0, 300.0),  # ... but never makes an attempt sooner
        (1, 0.5, 10 * 86400.0, 36000.0),  # ... and is capped at the longest step
        (8, 0.5, 1.0, None),  # ... and does not extend the schedule
    ],
)
def test_next_delay(
    attempts_made: int, rand: float, retry_after: float | None, expected: float | None
) -> None:
    got = next_delay(attempts_made, DEFAULT_RETRY_SCHEDULE, rand=rand, jitter=0.1, retry_after=retry_after)
    assert got == (None if expected is None else pytest.approx(expected))


def test_a_schedule_of_n_steps_allows_n_attempts() -> None:
    schedule = (0.0, 0.01, 0.02)
    delays = [next_delay(made, schedule, rand=0.5) for made in range(1, 4)]
    assert delays == [pytest.approx(0.01), pytest.approx(0.02), None]


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        (http_date(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True), 90.0),
        (http_date(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True), 0.0),  # in the past: now
        ("Wed, 21 Oct 2015 07:28:00", None),  # no zone
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0,5s,5m,30m,2h,5h,10h,10h", DEFAULT_RETRY_SCHEDULE),
        ("0, 5, 300", (0.0, 5.0, 300.0)),
        ("100ms,1.5,2d", (0.1, 1.5, 172800.0)),
        (".5s", (0.5,)),
        ("0", (0.0,)),
    ],
)
def test_parse_schedule(text: str, expected: tuple[float, ...]) -> None:
    assert parse_schedule(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "step 1"),
        ("5x", "step 1"),
        ("0,5s,,2h", "step 3"),
        ("0,-1", "step 2"),
        ("inf", "step 1"),
        ("1e3", "step 1"),
        ("5 m s", "step 1"),
    ],
)
def test_parse_schedule_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(text)


@pytest.mark.parametrize(
    ("schedule", "text"),
    [
        (DEFAULT_RETRY_SCHEDULE, "0,5s,5m,30m,2h,5h,10h,10h"),
        ((0.05, 1.5, 90.0, 86400.0), "0.05s,1.5s,90s,1d"),
    ],
)
def test_format_schedule(schedule: tuple[float, ...], text: str) -> None:
    assert format_schedule(schedule) == text
    assert parse_schedule(text) == pytest.approx(schedule)


@pytest.mark.parametrize("schedule", [(), (-1.0,), (0.0, math.nan), (math.inf,)])
def test_check_schedule_rejects(schedule: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        check_schedule(schedule)


@pytest.mark.parametrize(
    ("secret", "ok"),
    [
        (None, True),
        (SECRET, True),
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", True),
        ("whsec_!!", False),
        ("whsec_", False),
    ],
)
def test_check_secret(secret: str | None, ok: bool) -> None:
    if ok:
        assert check_secret(secret) == secret
    else:
        with pytest.raises(ValueError):
            check_secret(secret)


def _execution(status: str, callbacks: dict[str, str] | None = None, **fields: Any) -> Execution:
    return Execution(
        id="exec_0123",
        pipeline_id="pipe_9",
        status=ExecutionStatus(status),
        callbacks=URLS if callbacks is None else callbacks,
        **fields,
    )


@pytest.mark.parametrize(
    ("status", "callbacks", "expected"),
    [
        ("completed", URLS, ("execution.completed", "http://rx/ok")),
        ("failed", URLS, ("execution.failed", "http://rx/fail")),
        ("timeout", URLS, ("execution.failed", "http://rx/fail")),
        ("cancelled", URLS, ("execution.failed", "http://rx/fail")),
        ("pending", URLS, None),
        ("running", URLS, None),
        ("completed", {"on_failure": "http://rx/fail"}, None),
        ("failed", {"on_complete": "http://rx/ok"}, None),
        ("completed", {}, None),
    ],
)
def test_callback_for(status: str, callbacks: dict[str, str], expected: tuple[str, str] | None) -> None:
    assert callback_for(_execution(status, callbacks)) == expected


def test_delivery_id_is_stable_and_a_valid_webhook_id() -> None:
    first = delivery_id("exec_0123", "execution.completed")
    assert first == delivery_id("exec_0123", "execution.completed")
    assert first != delivery_id("exec_0123", "execution.failed")
    assert first != delivery_id("exec_0124", "execution.completed")
    assert first.isascii() and first.isprintable() and " " not in first and len(first) <= 256


def test_payload_carries_the_execution_and_parses_as_a_receiver_event() -> None:
    execution = _execution(
        "failed",
        outputs={"model_id": "m1", "score": 0.5},
        error="step deploy failed: no capacity",
        tags=["nightly", "gpu"],
        params={"model": "llama", "replicas": 2},
        steps={
            "add": StepRun(status=StepStatus.COMPLETED),
            "deploy": StepRun(status=StepStatus.FAILED, error="no capacity"),
        },
        created_at=WHEN,
        started_at=WHEN,
        completed_at=WHEN,
        duration_seconds=1.25,
        retry_of="exec_0001",
    )
    payload = build_payload(execution, "execution.failed", timestamp="2025-03-01T12:00:30.25Z")
    assert payload == {
        "type": "execution.failed",
        "execution_id": "exec_0123",
        "pipeline_id": "pipe_9",
        "status": "failed",
        "outputs": {"model_id": "m1", "score": 0.5},
        "error": "step deploy failed: no capacity",
        "tags": ["nightly", "gpu"],
        "params": {"model": "llama", "replicas": 2},
        "completed_at": "2025-03-01T12:00:30.250000Z",
        "duration_seconds": 1.25,
        "timestamp": "2025-03-01T12:00:30.25Z",
        "priority": "normal",
        "created_at": "2025-03-01T12:00:30.250000Z",
        "started_at": "2025-03-01T12:00:30.250000Z",
        "retry_of": "exec_0001",
        "steps": {"add": "completed", "deploy": "failed"},
    }
    body = encode_body(payload)
    assert json.loads(body) == payload
    assert body == encode_body(payload)  # the same bytes every time
    event = parse_event(body)
    assert (event.type, event.execution_id, event.status, event.outputs) == (
        "execution.failed",
        "exec_0123",
        ExecutionStatus.FAILED,
        {"model_id": "m1", "score": 0.5},
    )
    assert event.params == {"model": "llama", "replicas": 2}
    assert event.completed_at == WHEN


def test_body_is_compact_utf8() -> None:
    execution = _execution("completed", outputs={"greeting": "grüß dich ✓"})
    body = encode_body(build_payload(execution, "execution.completed", timestamp="t"))
    assert "grüß dich ✓".encode() in body
    assert b", " not in body and b": " not in body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("webhook_secret", "whsec_!!"),
        ("callback_retry_schedule", ()),
        ("callback_retry_schedule", (0.0, -1.0)),
        ("callback_jitter", 1.5),
        ("callback_timeout_seconds", 0.0),
        ("max_concurrent_callbacks", 0),
    ],
)
def test_server_config_refuses_bad_callback_settings(field: str, value: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ServerConfig(db_path=tmp_path / "x.db", **{field: value})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--callback-retry-schedule", "0,5s,soon"], "step 3"),
        (["--webhook-secret", "whsec_not base64!"], "not valid base64"),
        (["--callback-timeout", "0"], "--callback-timeout"),
    ],
)
def test_cli_refuses_bad_callback_options(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--db", str(tmp_path / "x.db"), *args], env={"BUDAI_WEBHOOK_SECRET": ""}
    )
    assert result.exit_code == 2
    assert message in result.output
