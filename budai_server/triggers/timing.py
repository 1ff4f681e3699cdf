"""When a schedule fires: pure functions over a schedule spec and instants (no clock reads).

Three kinds, as the pipeline service names them:

* ``cron``: a 5-field cron expression (or ``@hourly``, ``@daily``, ...) read in the schedule's
  IANA time zone with `croniter`. Wall-clock rules at DST changes (Vixie cron's): a local time
  that does not exist (the skipped hour of spring-forward) fires once at the first minute that
  exists after the gap (02:30 -> 03:00 in New York); a local time that happens twice (the repeated
  hour of fall-back) fires once, at its first occurrence.
* ``interval``: ``@every 1h30m`` (units d, h, m, s); fires at anchor + k * interval, k >= 1.
* ``one_time``: fires once at ``run_at`` (a naive ``run_at`` is read in the schedule's time zone).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from croniter import croniter

__all__ = [
    "SCHEDULE_TYPES",
    "ScheduleSpec",
    "SpecError",
    "format_every",
    "instants_after",
    "local_instant",
    "make_spec",
    "next_after",
    "parse_every",
    "runs_between",
    "upcoming",
]

SCHEDULE_TYPES = ("cron", "interval", "one_time")
MIN_INTERVAL_SECONDS = 1
_EVERY = re.compile(r"@every\s+(.+)", re.IGNORECASE)
_PART = re.compile(r"(\d+)(d|h|m|s)")
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MAX_GAP_MINUTES = 24 * 60


class SpecError(ValueError):
    """A schedule spec that cannot fire; `field` names the offending request field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@attrs.frozen(kw_only=True)
class ScheduleSpec:
    """A parsed schedule: what kind, its expression, zone, and the instants it is anchored to."""

    type: str
    expression: str
    timezone: str
    run_at: datetime | None = None
    interval: timedelta | None = None
    anchor: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def parse_every(text: str) -> timedelta:
    """``@every 1h30m`` (or ``1h30m``) as a timedelta; raises SpecError."""
    match = _EVERY.fullmatch(text.strip())
    body = (match.group(1) if match else text).strip().replace(" ", "").lower()
    parts = _PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        raise SpecError(
            "expression", f"not an interval: {text!r}; write e.g. '@every 1h30m' (units d, h, m, s)"
        )
    seconds = sum(int(number) * _UNIT[unit] for number, unit in parts)
    if seconds < MIN_INTERVAL_SECONDS:
        raise SpecError("expression", f"an interval must be at least {MIN_INTERVAL_SECONDS} second")
    return timedelta(seconds=seconds)


def format_every(interval: timedelta) -> str:
    """The canonical ``@every`` form of an interval (``@every 1h30m``)."""
    seconds = int(interval.total_seconds())
    out = ""
    for unit, size in _UNIT.items():
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return f"@every {out or '0s'}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SpecError("timezone", f"unknown IANA time zone {name!r}") from exc


def _check_cron(expression: str) -> str:
    text = " ".join(expression.split())
    if text.lower() in _ALIASES:
        return text.lower()
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise SpecError(
            "expression", f"not a 5-field cron expression: {expression!r} (e.g. '0 9 * * 1-5' or '@daily')"
        )
    return text


def make_spec(
    type_: str,
    expression: str | None,
    *,
    timezone: str = "UTC",
    run_at: datetime | None = None,
    anchor: datetime,
) -> ScheduleSpec:
    """Check and normalise a spec; an ``@every`` expression makes an interval whatever `type_` says.

    Raises SpecError naming ``type``, ``expression``, ``timezone`` or ``run_at``.
    """
    zone = _zone(timezone)
    text = (expression or "").strip()
    if _EVERY.fullmatch(text):
        type_ = "interval"
    if type_ not in SCHEDULE_TYPES:
        raise SpecError("type", f"must be one of: {', '.join(SCHEDULE_TYPES)}")
    if type_ == "one_time":
        if run_at is None:
            raise SpecError("run_at", "a one_time schedule needs run_at")
        when = run_at if run_at.tzinfo else run_at.replace(tzinfo=zone)
        return ScheduleSpec(
            type=type_, expression="", timezone=timezone, run_at=when.astimezone(UTC), anchor=anchor
        )
    if not text:
        raise SpecError("expression", "field is required")
    if type_ == "interval":
        interval = parse_every(text)
        return ScheduleSpec(
            type=type_, expression=format_every(interval), timezone=timezone, interval=interval, anchor=anchor
        )
    spec = ScheduleSpec(type=type_, expression=_check_cron(text), timezone=timezone, anchor=anchor)
    if next_after(spec, anchor) is None:
        raise SpecError("expression", f"cron expression {expression!r} never matches a date")
    return spec


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    back = naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return back == naive


def local_instant(naive: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a wall time fires at (see the module docstring for DST rules)."""
    probe = naive
    for _ in range(_MAX_GAP_MINUTES):
        if _exists(probe, zone):
            return probe.replace(tzinfo=zone, fold=0).astimezone(UTC)
        probe = (probe + timedelta(minutes=1)).replace(second=0, microsecond=0)
    raise SpecError("timezone", f"time zone {zone.key} has no valid time after {naive}")  # pragma: no cover


def _cron_after(spec: ScheduleSpec, after: datetime) -> Iterator[datetime]:
    # Wall times map to non-decreasing instants (fold=0; a gap collapses onto its end), so walking
    # cron's wall times from `after`'s wall time and dropping instants <= the last one is exact.
    zone = spec.zone
    it = croniter(spec.expression, after.astimezone(zone).replace(tzinfo=None))
    last = after
    while True:
        try:
            naive = it.get_next(datetime)
        except Exception:  # croniter gives up on dates that never come (e.g. 30 February)
            return
        instant = local_instant(naive, zone)
        if instant > last:
            last = instant
            yield instant


def instants_after(spec: ScheduleSpec, after: datetime) -> Iterator[datetime]:
    """Every fire instant strictly after `after`, in order (finite for one_time)."""
    if spec.type == "one_time":
        if spec.run_at is not None and spec.run_at > after:
            yield spec.run_at
        return
    if spec.type == "interval":
        assert spec.interval is not None
        step = max(1, (after - spec.anchor) // spec.interval + 1)
        while True:
            yield spec.anchor + step * spec.interval
            step += 1
    yield from _cron_after(spec, after)


def next_after(spec: ScheduleSpec, after: datetime) -> datetime | None:
    """The first instant strictly after `after` at which the schedule fires, or None (never again)."""
    return next(instants_after(spec, after), None)


def runs_between(spec: ScheduleSpec, after: datetime, until: datetime, *, limit: int) -> list[datetime]:
    """Fire instants in ``(after, until]``, oldest first, at most `limit` of them."""
    found: list[datetime] = []
    for instant in instants_after(spec, after):
        if instant > until or len(found) >= limit:
            break
        found.append(instant)
    return found


def upcoming(spec: ScheduleSpec, after: datetime, count: int) -> list[datetime]:
    """The next `count` fire instants after `after` (fewer when the schedule ends)."""
    found: list[datetime] = []
    for instant in instants_after(spec, after):
        if len(found) >= count:
            break
        found.append(instant)
    return found
