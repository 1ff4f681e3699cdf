"""How an execution ends or resumes, as pure functions of its state (no I/O, clock passed in).

The scheduler calls these when the runner returns, when it stops a run from outside (cancel,
timeout, shutdown, crash), and at start for executions a previous process left unfinished.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from budai_async.models import Execution, ExecutionStatus, StepRun, StepStatus
from budai_server.engine.rules import EXECUTION_CANCELLED, EXECUTION_TIMEOUT
from budai_server.engine.types import RunResult, StepState
from budai_server.progress import FINISHED_STEP, end_steps, step_run, step_state, with_progress

__all__ = [
    "EXECUTION_FAILED",
    "SERVER_RESTARTED",
    "ended",
    "from_run",
    "remaining_seconds",
    "resumable",
]

SERVER_RESTARTED = "server_restarted"
"""Skip reason of the steps an execution abandoned at restart never reached."""
EXECUTION_FAILED = "execution_failed"
"""Skip reason of the steps a failed run never reached without reporting them."""

_SKIP_REASONS = {
    ExecutionStatus.CANCELLED: EXECUTION_CANCELLED,
    ExecutionStatus.TIMEOUT: EXECUTION_TIMEOUT,
}
_FINAL_STATUSES = {
    "completed": ExecutionStatus.COMPLETED,
    "failed": ExecutionStatus.FAILED,
    "cancelled": ExecutionStatus.CANCELLED,
    "timeout": ExecutionStatus.TIMEOUT,
}


def remaining_seconds(execution: Execution, now: datetime) -> float | None:
    """Seconds left of the execution's timeout, counted from its first start (None: no timeout)."""
    if execution.timeout_seconds is None:
        return None
    started = execution.started_at or now
    return execution.timeout_seconds - (now - started).total_seconds()


def ended(
    execution: Execution,
    status: ExecutionStatus,
    error: str | None,
    now: datetime,
    *,
    step_status: StepStatus = StepStatus.CANCELLED,
    skip_reason: str = EXECUTION_CANCELLED,
    steps: dict[str, StepRun] | None = None,
    outputs: dict[str, object] | None = None,
    **changes: Any,
) -> Execution:
    """The execution ended with `status`; unfinished steps end too (see `end_steps`).

    `duration_seconds` is measured from `started_at`; an execution that never started has none.
    `changes` sets further fields (the run's measurements) in the same copy.
    """
    final_steps = end_steps(
        execution.steps if steps is None else steps,
        step_status,
        error or "execution stopped",
        skip_reason,
        now,
    )
    duration = None
    if execution.started_at is not None:
        duration = round((now - execution.started_at).total_seconds(), 6)
    return with_progress(
        execution,
        final_steps,
        status=status,
        error=error,
        outputs=dict(execution.outputs if outputs is None else outputs),
        completed_at=now,
        duration_seconds=duration,
        **changes,
    )


def from_run(
    execution: Execution, result: RunResult | None, interrupt: str | None, crash: str | None, now: datetime
) -> Execution:
    """The terminal state after a run: the runner's result, overridden by why it was stopped.

    `interrupt` is "cancel" or "timeout" when the scheduler stopped the run (a run that completed
    anyway stays completed); `crash` describes a runner that raised instead of returning.
    """
    skip_reason = EXECUTION_TIMEOUT if interrupt == "timeout" else EXECUTION_CANCELLED
    timeout_error = (
        f"execution exceeded its timeout of {execution.timeout_seconds:g} s"
        if (execution.timeout_seconds is not None)
        else "execution timed out"
    )
    status: ExecutionStatus
    error: str | None
    if result is None or crash is not None:
        if interrupt == "cancel":
            status, error = ExecutionStatus.CANCELLED, "cancelled by request"
        elif interrupt == "timeout":
            status, error = ExecutionStatus.TIMEOUT, timeout_error
        else:
            status, error = ExecutionStatus.FAILED, crash or "execution stopped"
        return ended(execution, status, error, now, skip_reason=skip_reason, outputs={})
    steps = dict(execution.steps)
    steps.update({step_id: step_run(state) for step_id, state in result.steps.items()})
    status = _FINAL_STATUSES.get(result.status, ExecutionStatus.FAILED)
    error = result.error
    if result.status not in _FINAL_STATUSES:
        error = f"engine returned unknown status {result.status!r}" + (f": {error}" if error else "")
    if interrupt == "cancel" and status is not ExecutionStatus.COMPLETED:
        status, error = ExecutionStatus.CANCELLED, error or "cancelled by request"
    elif interrupt == "timeout" and status is not ExecutionStatus.COMPLETED:
        status, error = ExecutionStatus.TIMEOUT, error or timeout_error
    if interrupt is None:  # steps the runner never reached (e.g. it refused the definition)
        skip_reason = _SKIP_REASONS.get(status, EXECUTION_FAILED)
    return ended(
        execution,
        status,
        error,
        now,
        skip_reason=skip_reason,
        steps=steps,
        outputs=result.outputs,
        cpu_seconds=result.cpu_seconds,
        peak_memory_mb=result.peak_memory_mb,
    )


def resumable(execution: Execution) -> tuple[Execution, dict[str, StepState]]:
    """An interrupted execution ready to run again, and its finished steps as `prior_steps`.

    Finished steps keep their results; steps that were running or waiting start over.
    """
    prior = {
        step_id: step_state(step) for step_id, step in execution.steps.items() if step.status in FINISHED_STEP
    }
    steps = {
        step_id: step if step.status in FINISHED_STEP else StepRun()
        for step_id, step in execution.steps.items()
    }
    return with_progress(execution, steps), prior
