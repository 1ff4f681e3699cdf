"""The engine's decisions as pure functions: gates, skips, retry timing, final status, outputs.

The runner asks these and does nothing clever itself, so every rule of DESIGN §4 is tested from tables
without an event loop. Statuses are the wire strings of `budai_async.models.StepStatus`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from budai_async.pipeline.definition import Branch, RetryPolicy

__all__ = [
    "BRANCH_NOT_TAKEN",
    "CONDITION_FALSE",
    "EXECUTION_CANCELLED",
    "EXECUTION_TIMEOUT",
    "FAILED_STATUSES",
    "RUN",
    "TERMINAL_STEP_STATUSES",
    "UPSTREAM_FAILED",
    "UPSTREAM_SKIPPED",
    "WAIT",
    "DepState",
    "Failure",
    "Gate",
    "branch_excludes",
    "final_status",
    "gate",
    "merge_sink_outputs",
    "next_retry",
    "progress",
    "retry_delay",
    "visible_status",
]

UPSTREAM_FAILED = "upstream_failed"
UPSTREAM_SKIPPED = "upstream_skipped"
CONDITION_FALSE = "condition_false"
BRANCH_NOT_TAKEN = "branch_not_taken"
EXECUTION_CANCELLED = "execution_cancelled"
EXECUTION_TIMEOUT = "execution_timeout"

TERMINAL_STEP_STATUSES = frozenset({"completed", "failed", "skipped", "timeout", "cancelled"})
FAILED_STATUSES = frozenset({"failed", "timeout", "cancelled"})

Failure = Literal["error", "timeout", "template", "validation", "condition", "fatal"]
"""Why an attempt failed: an action error, a step timeout, a template / param validation / condition
error, or an action error the action marked as not retryable (``fatal``)."""

_RETRYABLE: frozenset[str] = frozenset({"error", "timeout"})


@attrs.frozen
class DepState:
    """What a step's gate sees of one dependency.

    `excludes` is true when the dependency is a `condition` step that completed and chose the branch
    that does not include this step.
    """

    status: str
    skip_reason: str | None = None
    excludes: bool = False

    @property
    def failed(self) -> bool:
        """Failed, timed out, cancelled, or skipped because something above it failed."""
        return self.status in FAILED_STATUSES or (
            self.status == "skipped" and self.skip_reason == UPSTREAM_FAILED
        )


@attrs.frozen
class Gate:
    """The gate's answer: wait, run (after evaluating the step's condition, if any), or skip."""

    action: Literal["wait", "run", "skip"]
    reason: str | None = None


WAIT = Gate("wait")
RUN = Gate("run")


def gate(deps: Iterable[DepState], *, status_aware: bool) -> Gate:
    """Decide what happens to a pending step given its dependencies.

    Branch exclusion wins at once. Otherwise the step waits until every dependency has ended. The
    default gate then skips on any failure upstream (``upstream_failed``, which also covers a
    dependency skipped for that reason) or when every dependency was skipped (``upstream_skipped``);
    the status-aware gate (a condition reading ``steps.X.status``) always proceeds to its condition.
    """
    deps = list(deps)
    if any(dep.excludes for dep in deps):
        return Gate("skip", BRANCH_NOT_TAKEN)
    if any(dep.status not in TERMINAL_STEP_STATUSES for dep in deps):
        return WAIT
    if status_aware:
        return RUN
    if any(dep.failed for dep in deps):
        return Gate("skip", UPSTREAM_FAILED)
    if deps and all(dep.status == "skipped" for dep in deps):
        return Gate("skip", UPSTREAM_SKIPPED)
    return RUN


def visible_status(status: str, skip_reason: str | None) -> str:
    """The status templates and conditions read as ``steps.X.status``.

    A step skipped because something above it failed reads ``failed`` (GitHub Actions' ``failure()``
    is true there too), so ``steps.deploy.status == 'failed'`` catches a deploy that never ran because
    its health check failed; ``steps.X.skip_reason`` (``upstream_failed``) tells the two apart. The
    execution's own view of the step keeps ``skipped``.
    """
    if status == "skipped" and skip_reason == UPSTREAM_FAILED:
        return "failed"
    return status


def branch_excludes(branch: Branch, output: Any, step_id: str) -> bool:
    """True when a completed `condition` step's output sends execution away from `step_id`."""
    result = output.get("result") if isinstance(output, Mapping) else None
    if not isinstance(result, bool):
        return False
    return step_id in branch.not_taken(result)


def retry_delay(policy: RetryPolicy, attempts: int) -> float:
    """Seconds to wait after attempt `attempts` (k) before attempt k+1.

    ``min(initial_delay * backoff_multiplier ** (k - 1), max_delay)``.
    """
    exponent = max(attempts - 1, 0)
    try:
        delay = policy.initial_delay_seconds * policy.backoff_multiplier**exponent
    except OverflowError:
        delay = policy.max_delay_seconds
    return float(min(delay, policy.max_delay_seconds))


def next_retry(
    policy: RetryPolicy, *, attempts: int, failure: Failure, now: float, deadline: float | None
) -> float | None:
    """The wait before the next attempt, or None when the step has failed for good.

    No retry for template, validation or condition failures, none past `max_attempts`, and none that
    would start at or after the execution's `deadline` (same clock as `now`).
    """
    if failure not in _RETRYABLE or attempts >= policy.max_attempts:
        return None
    delay = retry_delay(policy, attempts)
    if deadline is not None and now + delay >= deadline:
        return None
    return delay


def final_status(*, cancelled: bool, timed_out: bool, step_statuses: Iterable[str]) -> str:
    """An execution's end: cancelled, else timeout, else failed if any step failed or timed out
    (even when a failure handler ran), else completed."""
    if cancelled:
        return "cancelled"
    if timed_out:
        return "timeout"
    if any(status in FAILED_STATUSES for status in step_statuses):
        return "failed"
    return "completed"


def merge_sink_outputs(sinks: Iterable[str], steps: Mapping[str, tuple[str, Any]]) -> dict[str, Any]:
    """Default execution outputs: the dict outputs of the completed sink steps, merged in order.

    `steps` maps a step id to its ``(status, output)``; a later sink's keys win.
    """
    merged: dict[str, Any] = {}
    for step_id in sinks:
        status, output = steps.get(step_id, ("pending", None))
        if status == "completed" and isinstance(output, Mapping):
            merged.update(output)
    return merged


def progress(step_statuses: Iterable[str]) -> tuple[int, int, float]:
    """``(finished_steps, total_steps, percent)``; skipped steps count as finished."""
    statuses = list(step_statuses)
    done = sum(1 for status in statuses if status in TERMINAL_STEP_STATUSES)
    total = len(statuses)
    return done, total, round(100.0 * done / total, 2) if total else 100.0
