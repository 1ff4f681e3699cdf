"""Pure tables for schedule timing (cron in a zone, DST, @every, one-time) and the catch-up rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from budai_server.triggers.catchup import Decision, decide
from budai_server.triggers.timing import (
    SpecError,
    format_every,
    make_spec,
    next_after,
    parse_every,
    runs_between,
    upcoming,
)

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expression", "timezone", "after", "expected"),
    [
        ("0 9 * * 1-5", "UTC", utc(2026, 1, 5, 8, 59), utc(2026, 1, 5, 9, 0)),
        ("0 9 * * 1-5", "UTC", utc(2026, 1, 5, 9, 0), utc(2026, 1, 6, 9, 0)),  # strictly after
        ("0 9 * * 1-5", "UTC", utc(2026, 1, 9, 9, 0), utc(2026, 1, 12, 9, 0)),  # Friday -> Monday
        ("0 9 * * *", "America/New_York", utc(2026, 1, 5, 0, 0), utc(2026, 1, 5, 14, 0)),  # EST
        ("0 9 * * *", "America/New_York", utc(2026, 7, 1, 0, 0), utc(2026, 7, 1, 13, 0)),  # EDT
        ("@daily", "Europe/Berlin", utc(2026, 1, 5, 0, 0), utc(2026, 1, 5, 23, 0)),
        ("*/15 * * * *", "UTC", utc(2026, 1, 5, 0, 7), utc(2026, 1, 5, 0, 15)),
    ],
)
def test_cron_next_run(expression: str, timezone: str, after: datetime, expected: datetime) -> None:
    spec = make_spec("cron", expression, timezone=timezone, anchor=T0)
    assert next_after(spec, after) == expected


def test_spring_forward_gap_fires_once_at_the_end_of_the_gap() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 does not exist in New York.
    spec = make_spec("cron", "30 2 * * *", timezone="America/New_York", anchor=T0)
    runs = upcoming(spec, utc(2026, 3, 7, 12, 0), 3)
    assert runs == [utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)]


def test_spring_forward_gap_collapses_many_wall_times_into_one_run() -> None:
    spec = make_spec("cron", "*/20 * * * *", timezone="America/New_York", anchor=T0)
    runs = runs_between(spec, utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 30), limit=100)
    # 01:40 EST, then 02:00/02:20/02:40 (missing) collapse into 03:00 EDT, then 03:20 EDT.
    assert runs == [utc(2026, 3, 8, 6, 40), utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 20)]


def test_fall_back_repeated_hour_fires_once_at_its_first_occurrence() -> None:
    # 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice.
    spec = make_spec("cron", "30 1 * * *", timezone="America/New_York", anchor=T0)
    runs = runs_between(spec, utc(2026, 10, 31, 12, 0), utc(2026, 11, 2, 12, 0), limit=10)
    assert runs == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    # Asked from inside the second 01:xx, the repeated 01:30 is not fired again.
    assert next_after(spec, utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 2, 6, 30)


def test_hourly_cron_over_fall_back_runs_in_instant_order_without_repeats() -> None:
    spec = make_spec("cron", "0 * * * *", timezone="America/New_York", anchor=T0)
    runs = runs_between(spec, utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 8, 30), limit=10)
    assert runs == [utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 7, 0), utc(2026, 11, 1, 8, 0)]


@pytest.mark.parametrize(
    ("text", "seconds", "canonical"),
    [
        ("@every 1h30m", 5400, "@every 1h30m"),
        ("@every 90m", 5400, "@every 1h30m"),
        ("1d", 86400, "@every 1d"),
        ("@every 45s", 45, "@every 45s"),
        ("@EVERY 2h 5m", 7500, "@every 2h5m"),
    ],
)
def test_every_parses_and_formats(text: str, seconds: int, canonical: str) -> None:
    interval = parse_every(text)
    assert interval == timedelta(seconds=seconds)
    assert format_every(interval) == canonical


@pytest.mark.parametrize("text", ["@every", "@every 0s", "@every 5x", "@every -1h", "@every 1h30"])
def test_every_refuses_bad_intervals(text: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_every(text)
    assert caught.value.field == "expression"


def test_interval_is_anchored_and_strictly_after() -> None:
    spec = make_spec("cron", "@every 1h30m", anchor=T0)  # @every wins over the type
    assert spec.type == "interval"
    assert next_after(spec, T0) == T0 + timedelta(minutes=90)
    assert next_after(spec, T0 + timedelta(minutes=90)) == T0 + timedelta(minutes=180)
    assert next_after(spec, T0 - timedelta(days=1)) == T0 + timedelta(minutes=90)


def test_one_time_fires_once_and_reads_a_naive_time_in_its_zone() -> None:
    spec = make_spec("one_time", None, timezone="Asia/Tokyo", run_at=datetime(2026, 1, 6, 9, 0), anchor=T0)
    assert spec.run_at == utc(2026, 1, 6, 0, 0)
    assert next_after(spec, T0) == utc(2026, 1, 6, 0, 0)
    assert next_after(spec, utc(2026, 1, 6, 0, 0)) is None


@pytest.mark.parametrize(
    ("type_", "expression", "timezone", "field"),
    [
        ("cron", "61 * * * *", "UTC", "expression"),
        ("cron", "* * * *", "UTC", "expression"),
        ("cron", "0 0 30 2 *", "UTC", "expression"),  # never matches
        ("cron", "0 9 * * *", "Mars/Olympus", "timezone"),
        ("weekly", "0 9 * * *", "UTC", "type"),
        ("one_time", None, "UTC", "run_at"),
        ("cron", "", "UTC", "expression"),
    ],
)
def test_bad_specs_name_their_field(type_: str, expression: str | None, timezone: str, field: str) -> None:
    with pytest.raises(SpecError) as caught:
        make_spec(type_, expression, timezone=timezone, anchor=T0)
    assert caught.value.field == field


NOW = utc(2026, 1, 10, 12, 0)
HOURLY = [NOW - timedelta(hours=h) for h in (3, 2, 1, 0)]


@pytest.mark.parametrize(
    ("due", "catchup", "window", "fired", "skipped"),
    [
        ([NOW], "latest", 3600.0, [NOW], []),
        ([NOW - timedelta(seconds=30)], "skip", 3600.0, [NOW - timedelta(seconds=30)], []),
        (HOURLY, "latest", 1e9, [NOW], [(t, "superseded") for t in HOURLY[:3]]),
        (HOURLY, "all", 1e9, HOURLY, []),
        (HOURLY[:3], "skip", 1e9, [], [(t, "outside_catchup_window") for t in HOURLY[:3]]),
        (
            HOURLY,
            "all",
            5400.0,
            HOURLY[2:],
            [(t, "outside_catchup_window") for t in HOURLY[:2]],
        ),
        (HOURLY[:2], "latest", 3 * 3600.0, [HOURLY[1]], [(HOURLY[0], "superseded")]),
        ([], "latest", 60.0, [], []),
    ],
)
def test_catchup_decisions(
    due: list[datetime],
    catchup: str,
    window: float,
    fired: list[datetime],
    skipped: list[tuple[datetime, str]],
) -> None:
    decisions = decide(due, NOW, catchup=catchup, window_seconds=window)
    assert [d.run_at for d in decisions if d.fire] == fired
    assert [(d.run_at, d.reason) for d in decisions if not d.fire] == skipped
    assert sorted(d.run_at for d in decisions) == sorted(due)  # every due time is decided, none dropped


def test_latest_waits_while_more_backlog_is_pending() -> None:
    decisions = decide(HOURLY, NOW, catchup="latest", window_seconds=1e9, more_pending=True)
    assert decisions == [Decision(run_at=t, fire=False, reason="superseded") for t in HOURLY]
