"""Pure helpers over step states: conversions between the runner's and the wire's form, progress.

Used by the scheduler (live progress, restart recovery) and the progress route; no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from budai_async._convert import converter
from budai_async.models import Execution, StepRun, StepStatus
from budai_server.engine.types import StepState

__all__ = [
    "FINISHED_STEP",
    "end_steps",
    "progress_view",
    "step_actions",
    "step_ids",
    "step_run",
    "step_state",
    "with_progress",
]

FINISHED_STEP = frozenset(
    {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.TIMEOUT, StepStatus.CANCELLED}
)


def step_ids(definition: Mapping[str, Any]) -> list[str]:
    """The step ids of a definition in declaration order (definitions are validated before)."""
    steps = definition.get("steps")
    if not isinstance(steps, list):
        return []
    return [str(step["id"]) for step in steps if isinstance(step, Mapping) and "id" in step]


def step_actions(definition: Mapping[str, Any]) -> dict[str, str]:
    steps = definition.get("steps")
    if not isinstance(steps, list):
        return {}
    return {
        str(step["id"]): str(step.get("action", "unknown"))
        for step in steps
        if isinstance(step, Mapping) and "id" in step
    }


def step_run(state: StepState) -> StepRun:
    """Freeze the runner's mutable step state into the wire model."""
    return StepRun(
        status=StepStatus(state.status),
        output=state.output,
        error=state.error,
        attempts=state.attempts,
        skip_reason=state.skip_reason,
        started_at=state.started_at,
        completed_at=state.completed_at,
        duration_seconds=state.duration_seconds,
    )


def step_state(run: StepRun) -> StepState:
    """Thaw a stored step into the runner's mutable form (for `prior_steps`)."""
    return StepState(
        status=str(run.status),
        output=run.output,
        error=run.error,
        attempts=run.attempts,
        skip_reason=run.skip_reason,
        started_at=run.started_at,
        completed_at=run.completed_at,
        duration_seconds=run.duration_seconds,
    )


def with_progress(execution: Execution, steps: dict[str, StepRun], **changes: Any) -> Execution:
    """Return `execution` with these steps, the progress figures they imply and `changes`.

    `progress` is the share of steps that finished in any way (0-100); `completed_steps` counts
    only the steps that completed successfully. `changes` are other fields set in the same copy
    (one `attrs.evolve` instead of several on the per-execution path).
    """
    total = execution.total_steps or len(steps)
    finished = sum(1 for step in steps.values() if step.status in FINISHED_STEP)
    completed = sum(1 for step in steps.values() if step.status == StepStatus.COMPLETED)
    progress = round(100.0 * finished / total, 2) if total else 100.0
    return attrs.evolve(execution, steps=steps, progress=progress, completed_steps=completed, **changes)


def end_steps(
    steps: Mapping[str, StepRun], status: StepStatus, error: str, skip_reason: str, now: datetime
) -> dict[str, StepRun]:
    """End every unfinished step of an execution stopped from outside (cancel, timeout, restart).

    A step that had started gets `status` and `error`; one that never started is skipped with
    `skip_reason`, as the engine does for the steps it did not reach.
    """
    ended: dict[str, StepRun] = {}
    for step_id, step in steps.items():
        if step.status in FINISHED_STEP:
            ended[step_id] = step
        elif step.started_at is None:
            ended[step_id] = attrs.evolve(step, status=StepStatus.SKIPPED, skip_reason=skip_reason)
        else:
            ended[step_id] = attrs.evolve(
                step,
                status=status,
                error=error,
                completed_at=now,
                duration_seconds=round((now - step.started_at).total_seconds(), 6),
            )
    return ended


def progress_view(execution: Execution, definition: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The real gateway's progress shape: the execution, its steps as a list, aggregated progress.

    `eta_seconds` extrapolates the mean time per finished step over the steps left (None until a
    step has finished; 0 once the execution is terminal).
    """
    steps: list[dict[str, Any]] = []
    names = {
        str(step["id"]): str(step.get("name") or step["id"])
        for step in definition.get("steps", [])
        if isinstance(step, Mapping) and "id" in step
    }
    actions = step_actions(definition)
    order = step_ids(definition) or list(execution.steps)
    for position, step_id in enumerate(order, start=1):
        step = execution.steps.get(step_id, StepRun())
        entry = converter.unstructure(step, StepRun)
        entry.update(
            step_id=step_id,
            step_name=names.get(step_id, step_id),
            action=actions.get(step_id),
            sequence_number=position,
        )
        steps.append(entry)
    total = execution.total_steps or len(order)
    finished = sum(1 for step in execution.steps.values() if step.status in FINISHED_STEP)
    running = [entry["step_id"] for entry in steps if entry["status"] in ("running", "retrying")]
    eta: float | None = None
    if execution.is_terminal:
        eta = 0.0
    elif execution.started_at is not None and 0 < finished < total:
        elapsed = (now - execution.started_at).total_seconds()
        eta = round(elapsed / finished * (total - finished), 3)
    return {
        "execution": converter.unstructure(execution, Execution),
        "steps": steps,
        "aggregated_progress": {
            "overall_progress": execution.progress,
            "completed_steps": execution.completed_steps,
            "total_steps": total,
            "current_step": running[0] if running else None,
            "running_steps": running,
            "eta_seconds": eta,
        },
    }
