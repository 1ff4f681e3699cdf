"""Pure arithmetic of execution logs, shared by the server and the SDK: levels, `since`, filters, resume.

No I/O and no clock reads: callers pass `now` and random numbers in, so every rule here is tested by
tables of cases. The server's REST and websocket handlers and the SDK's follow loop call these and
do nothing clever themselves.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import attrs

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_LAGGING",
    "CLOSE_NORMAL",
    "LEVELS",
    "MAX_SEQ",
    "LogFilter",
    "ResumeCursor",
    "level_name",
    "level_rank",
    "parse_after_seq",
    "parse_level",
    "parse_limit",
    "parse_since",
    "reconnect_delay",
    "resume_at_once",
    "should_resume",
]

LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")
MAX_SEQ = 2**63 - 1
_RANKS = {name: rank for rank, name in enumerate(LEVELS)}
_ALIASES = {"warn": "warning", "err": "error", "critical": "error", "fatal": "error"}

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
# Ours: the subscriber fell more than its buffer behind; reconnect with `after_seq` to resume.
CLOSE_LAGGING = 4008
# Close codes after which reconnecting cannot help (protocol, policy, auth and request errors).
_FATAL_CLOSE_CODES = frozenset({1002, 1003, 1007, 1008, 1009, 1010, 4400, 4401, 4403, 4404, 4422})

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_level(value: str) -> str:
    """Return the canonical level name for `value` (case-insensitive, `warn` accepted).

    Raises ValueError naming the allowed levels.
    """
    lowered = value.strip().lower()
    name = _ALIASES.get(lowered, lowered)
    if name not in _RANKS:
        raise ValueError(f"unknown level {value!r}; expected one of {', '.join(LEVELS)}")
    return name


def level_rank(level: str) -> int:
    """Rank of a level (debug 0 … error 3); raises ValueError for an unknown level."""
    return _RANKS[parse_level(level)]


def level_name(rank: int) -> str:
    """The level name for a stored rank; ranks outside the table clamp to the nearest level."""
    return LEVELS[min(max(rank, 0), len(LEVELS) - 1)]


def parse_since(value: str, now: datetime) -> datetime:
    """Turn `5m`, `30s`, `2h`, `1d` (also `ms`, `w`, fractions) or an ISO-8601 time into an instant.

    A duration means "that long before `now`"; an ISO time without an offset is UTC. Raises
    ValueError for anything else, including negative or absurdly long durations.
    """
    text = value.strip()
    if not text:
        raise ValueError("since must not be empty")
    match = _DURATION.match(text)
    if match is not None:
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        try:
            return now - timedelta(seconds=seconds)
        except OverflowError as error:
            raise ValueError(f"since duration {value!r} is too long") from error
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as error:
        raise ValueError(
            f"since {value!r} is neither a duration like 30s, 5m, 2h, 1d nor an ISO-8601 time"
        ) from error
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_after_seq(value: str) -> int:
    """Parse the `after_seq` query value: an integer in 0..MAX_SEQ; raises ValueError otherwise.

    The bound is SQLite's largest integer: a larger value could not even be compared in SQL.
    """
    try:
        seq = int(value)
    except ValueError as error:
        raise ValueError(f"after_seq must be an integer >= 0, got {value!r}") from error
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"after_seq must be an integer between 0 and {MAX_SEQ}, got {value!r}")
    return seq


def parse_limit(value: str, maximum: int) -> int:
    """Parse the `limit` query value: an integer in 1..maximum; raises ValueError otherwise."""
    try:
        limit = int(value)
    except ValueError as error:
        raise ValueError(f"limit must be an integer between 1 and {maximum}, got {value!r}") from error
    if not 1 <= limit <= maximum:
        raise ValueError(f"limit must be an integer between 1 and {maximum}, got {value!r}")
    return limit


@attrs.frozen(kw_only=True)
class LogFilter:
    """Which lines a reader wants: at least `min_rank`, from one step, at or after `since` (epoch s)."""

    min_rank: int = 0
    step_id: str | None = None
    since: float | None = None

    @classmethod
    def build(
        cls, *, level: str | None = None, step_id: str | None = None, since: datetime | None = None
    ) -> LogFilter:
        """Build a filter from user-facing values; raises ValueError for an unknown level."""
        return cls(
            min_rank=0 if level is None else level_rank(level),
            step_id=step_id,
            since=None if since is None else since.timestamp(),
        )

    def accepts(self, rank: int, step_id: str | None, timestamp: float) -> bool:
        """True when a line with this level rank, step and epoch timestamp passes the filter."""
        if rank < self.min_rank:
            return False
        if self.step_id is not None and step_id != self.step_id:
            return False
        return self.since is None or timestamp >= self.since

    @property
    def is_open(self) -> bool:
        """True when the filter lets every line through."""
        return self.min_rank == 0 and self.step_id is None and self.since is None


@attrs.define
class ResumeCursor:
    """The last seq handed on; drops anything at or below it so a resumed stream never repeats."""

    last_seq: int = 0

    def advance(self, seq: int) -> bool:
        """Accept `seq` if it is new (and remember it); False for a duplicate or a replay."""
        if seq <= self.last_seq:
            return False
        self.last_seq = seq
        return True


def reconnect_delay(attempt: int, *, base: float, cap: float, rand: float) -> float:
    """Seconds to wait before reconnect number `attempt` (0-based): capped exponential, equal jitter.

    `rand` is a number in [0, 1) from the caller's RNG; the delay lies in [half, all] of
    `min(cap, base * 2**attempt)`, so reconnecting clients spread out but never spin.
    """
    ceiling = min(cap, base * (2.0 ** min(attempt, 32)))
    return ceiling * (0.5 + 0.5 * rand)


def resume_at_once(close_code: int | None) -> bool:
    """True when a close asks for an immediate reconnect: the server dropped a lagging reader,
    nothing is wrong with it, and waiting would only let the reader fall further behind."""
    return close_code == CLOSE_LAGGING


def should_resume(close_code: int | None) -> bool:
    """Whether a stream closed with `close_code` (None: the connection just broke) should reconnect."""
    return close_code is None or close_code not in _FATAL_CLOSE_CODES
