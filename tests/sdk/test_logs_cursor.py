"""Table tests of the pure log arithmetic: levels, `since`, filters, resume cursor, reconnect policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from budai_async.logs.cursor import (
    CLOSE_LAGGING,
    LogFilter,
    ResumeCursor,
    level_name,
    level_rank,
    parse_after_seq,
    parse_level,
    parse_limit,
    parse_since,
    reconnect_delay,
    resume_at_once,
    should_resume,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", NOW - timedelta(seconds=30)),
        ("5m", NOW - timedelta(minutes=5)),
        ("2h", NOW - timedelta(hours=2)),
        ("1d", NOW - timedelta(days=1)),
        ("1w", NOW - timedelta(weeks=1)),
        ("250ms", NOW - timedelta(milliseconds=250)),
        ("1.5h", NOW - timedelta(minutes=90)),
        (" 10M ", NOW - timedelta(minutes=10)),
        ("0s", NOW),
        ("2024-05-01T11:00:00Z", datetime(2024, 5, 1, 11, tzinfo=UTC)),
        ("2024-05-01T11:00:00", datetime(2024, 5, 1, 11, tzinfo=UTC)),
        ("2024-05-01T13:00:00+02:00", datetime(2024, 5, 1, 11, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    ],
)
def test_parse_since_accepts_durations_and_iso_times(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


def test_parse_since_keeps_the_given_offset() -> None:
    parsed = parse_since("2024-05-01T13:00:00+02:00", NOW)
    assert parsed.utcoffset() == timezone(timedelta(hours=2)).utcoffset(None)


@pytest.mark.parametrize(
    "text", ["", "  ", "5", "-5m", "5 minutes", "m5", "5y", "yesterday", "1e3s", "2024-13-01"]
)
def test_parse_since_rejects_everything_else(text: str) -> None:
    with pytest.raises(ValueError, match="since"):
        parse_since(text, NOW)


def test_parse_since_rejects_a_duration_past_the_calendar() -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_since("99999999999d", NOW)


@pytest.mark.parametrize(
    ("text", "name", "rank"),
    [
        ("debug", "debug", 0),
        ("INFO", "info", 1),
        ("warn", "warning", 2),
        ("Warning", "warning", 2),
        ("error", "error", 3),
    ],
)
def test_levels(text: str, name: str, rank: int) -> None:
    assert parse_level(text) == name
    assert level_rank(text) == rank
    assert level_name(rank) == name


@pytest.mark.parametrize("text", ["", "verbose", "trace", "3"])
def test_unknown_levels_are_rejected_with_the_allowed_ones(text: str) -> None:
    with pytest.raises(ValueError, match="debug, info, warning, error"):
        parse_level(text)


def test_level_name_clamps_out_of_range_ranks() -> None:
    assert level_name(-1) == "debug"
    assert level_name(9) == "error"


@pytest.mark.parametrize(
    ("log_filter", "line", "accepted"),
    [
        (LogFilter(), (0, None, 0.0), True),
        (LogFilter.build(level="warning"), (1, "a", 100.0), False),
        (LogFilter.build(level="warning"), (2, "a", 100.0), True),
        (LogFilter.build(level="warning"), (3, "a", 100.0), True),
        (LogFilter.build(step_id="a"), (1, "a", 100.0), True),
        (LogFilter.build(step_id="a"), (1, "b", 100.0), False),
        (LogFilter.build(step_id="a"), (1, None, 100.0), False),
        (LogFilter(since=100.0), (1, None, 99.999), False),
        (LogFilter(since=100.0), (1, None, 100.0), True),
        (LogFilter(min_rank=3, step_id="s", since=5.0), (3, "s", 6.0), True),
        (LogFilter(min_rank=3, step_id="s", since=5.0), (2, "s", 6.0), False),
    ],
)
def test_filter_accepts(log_filter: LogFilter, line: tuple[int, str | None, float], accepted: bool) -> None:
    assert log_filter.accepts(*line) is accepted


def test_filter_build_converts_since_to_epoch_seconds() -> None:
    built = LogFilter.build(level="info", step_id="x", since=NOW)
    assert built == LogFilter(min_rank=1, step_id="x", since=NOW.timestamp())
    assert LogFilter().is_open and not built.is_open


def test_resume_cursor_drops_replays_and_duplicates() -> None:
    cursor = ResumeCursor(2)
    seen = [seq for seq in [1, 2, 3, 3, 4, 2, 5, 7, 6] if cursor.advance(seq)]
    assert seen == [3, 4, 5, 7]
    assert cursor.last_seq == 7


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (0, 0.0, 0.05),
        (0, 1.0, 0.1),
        (1, 0.0, 0.1),
        (3, 0.5, 0.6),
        (10, 0.0, 2.5),  # capped at 5 s, half of it at rand 0
        (10, 0.999, 4.9975),
        (10_000, 1.0, 5.0),  # huge attempts never overflow
    ],
)
def test_reconnect_delay_is_capped_exponential_with_equal_jitter(
    attempt: int, rand: float, expected: float
) -> None:
    assert reconnect_delay(attempt, base=0.1, cap=5.0, rand=rand) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("code", "resume"),
    [
        (None, True),
        (1000, True),
        (1001, True),
        (1006, True),
        (1011, True),
        (1012, True),
        (CLOSE_LAGGING, True),
        (1002, False),
        (1008, False),
        (4401, False),
        (4404, False),
    ],
)
def test_should_resume(code: int | None, resume: bool) -> None:
    assert should_resume(code) is resume


@pytest.mark.parametrize(
    ("code", "at_once"), [(CLOSE_LAGGING, True), (1001, False), (1006, False), (None, False)]
)
def test_only_a_lagging_close_resumes_without_waiting(code: int | None, at_once: bool) -> None:
    assert resume_at_once(code) is at_once


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("17", 17)])
def test_parse_after_seq(text: str, value: int) -> None:
    assert parse_after_seq(text) == value


@pytest.mark.parametrize("text", ["-1", "x", "1.5", ""])
def test_parse_after_seq_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="after_seq"):
        parse_after_seq(text)


@pytest.mark.parametrize("text", ["0", "10001", "abc", "-3"])
def test_parse_limit_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="between 1 and 10000"):
        parse_limit(text, 10_000)


def test_parse_limit_accepts_the_bounds() -> None:
    assert parse_limit("1", 10) == 1
    assert parse_limit("10", 10) == 10
