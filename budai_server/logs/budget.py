"""How many log lines one execution may write, and how long each may be (pure: the caller passes `now`).

A step that logs in a tight loop would otherwise fill the log table and every stream subscriber's
buffer. Each execution gets a token bucket (`per_second` lines per second, bursts of as many) and a
total; a line over either is dropped, and a dropped line becomes one warning saying which limit it
hit (at most one such warning per `NOTICE_EVERY` seconds, and one for the total), so the reader
knows lines are missing and why.
"""

from __future__ import annotations

import enum
import math

import attrs

__all__ = ["NOTICE_EVERY", "LineBudget", "Verdict", "clip"]

#: Shortest time between two "lines dropped for the rate" warnings of one execution.
NOTICE_EVERY = 10.0


class Verdict(enum.Enum):
    ADMIT = "admit"
    DROP = "drop"
    NOTICE_RATE = "notice_rate"  # first line dropped for the rate: write the notice instead
    NOTICE_TOTAL = "notice_total"  # first line dropped for the total: write the notice instead


@attrs.define
class LineBudget:
    """One execution's allowance of log lines.

    The rate is a token bucket of `per_second` tokens refilled at `per_second` a second, kept as
    the generic cell rate algorithm does: one "theoretical arrival time" instead of a token count
    and a refill stamp, so a line that conforms costs a comparison and an addition (this runs for
    every line an action writes). A line at `now` conforms when `now >= tat - tolerance`.
    """

    per_second: float
    total: int
    admitted: int = 0
    noticed_at: float | None = None
    total_noticed: bool = False
    _tat: float = attrs.field(init=False, default=-math.inf)
    _interval: float = attrs.field(init=False, default=0.0)
    _tolerance: float = attrs.field(init=False, default=math.inf)

    def __attrs_post_init__(self) -> None:
        if math.isfinite(self.per_second):
            self._interval = 1.0 / self.per_second
            self._tolerance = max(0.0, self.per_second - 1.0) * self._interval

    def admit(self, now: float) -> Verdict:
        """Decide about one more line at time `now` (seconds, monotonic or wall)."""
        tat = self._tat
        if now >= tat - self._tolerance and self.admitted < self.total:  # the hot path
            self._tat = (now if now > tat else tat) + self._interval
            self.admitted += 1
            return Verdict.ADMIT
        if self.admitted >= self.total:
            if self.total_noticed:
                return Verdict.DROP
            self.total_noticed = True
            return Verdict.NOTICE_TOTAL
        if self.noticed_at is not None and now - self.noticed_at < NOTICE_EVERY:
            return Verdict.DROP
        self.noticed_at = now
        return Verdict.NOTICE_RATE

    def notice(self, verdict: Verdict) -> str:
        """The warning line written in place of the first dropped line."""
        if verdict is Verdict.NOTICE_TOTAL:
            return (
                f"log limit reached: this execution wrote {self.total} lines "
                "(max_log_lines_per_execution); further lines are dropped"
            )
        return (
            f"log rate limit reached: more than {self.per_second:g} lines per second "
            "(max_log_lines_per_second); lines are dropped until the rate falls"
        )


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how much was cut (max_log_line_chars)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters cut: max_log_line_chars={limit}]"
