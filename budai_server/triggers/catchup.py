"""Which due run times fire and which are skipped: the catch-up rule, as a pure function.

Anchored on Temporal's schedule policies (``catchup_window`` and the overlap policy):

* ``catchup_window_seconds`` (default one year, Temporal's default): a run time the loop sees
  later than this after it was due is skipped (``outside_catchup_window``).
* ``catchup``: what happens to the run times inside the window that piled up while the server was
  down (or the loop was late): ``latest`` (default) fires the newest one once and skips the older
  ones (``superseded``), like Temporal's BufferOne and anacron; ``all`` fires every one of them in
  order, like BufferAll / AllowAll; ``skip`` fires only a run seen within `ON_TIME_SECONDS` of its
  time (a catch-up window of one minute), so nothing missed while down ever runs.
* ``overlap`` (checked by the loop, not here): ``skip`` (default, Temporal's) records a run as
  skipped (``overlap``) while the execution of the previous run is still pending or running;
  ``allow_all`` always fires.

Nothing is skipped silently: every skipped run time gets a run row with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

__all__ = [
    "CATCHUP_POLICIES",
    "DEFAULT_CATCHUP_WINDOW_SECONDS",
    "ON_TIME_SECONDS",
    "OVERLAP_POLICIES",
    "Decision",
    "decide",
]

CATCHUP_POLICIES = ("latest", "all", "skip")
OVERLAP_POLICIES = ("skip", "allow_all")
DEFAULT_CATCHUP_WINDOW_SECONDS = 365 * 86400.0
ON_TIME_SECONDS = 60.0


@attrs.frozen(kw_only=True)
class Decision:
    """One due run time: fire it, or skip it for `reason`."""

    run_at: datetime
    fire: bool
    reason: str | None = None


def decide(
    due: Sequence[datetime],
    now: datetime,
    *,
    catchup: str,
    window_seconds: float,
    more_pending: bool = False,
) -> list[Decision]:
    """Decide every run time in `due` (oldest first, all <= `now`).

    `more_pending` says the caller stopped listing early (a long backlog): then `latest` and
    `skip` fire nothing yet, because a newer run time is still to come in the next pass.
    """
    window = min(window_seconds, ON_TIME_SECONDS) if catchup == "skip" else window_seconds
    oldest_allowed = now - timedelta(seconds=window)
    decisions: list[Decision] = []
    inside: list[datetime] = []
    for run_at in due:
        if run_at < oldest_allowed:
            decisions.append(Decision(run_at=run_at, fire=False, reason="outside_catchup_window"))
        else:
            inside.append(run_at)
    if catchup == "all":
        decisions.extend(Decision(run_at=run_at, fire=True) for run_at in inside)
        return decisions
    newest = None if more_pending or not inside else inside[-1]
    for run_at in inside:
        if run_at == newest:
            decisions.append(Decision(run_at=run_at, fire=True))
        else:
            decisions.append(Decision(run_at=run_at, fire=False, reason="superseded"))
    return decisions
