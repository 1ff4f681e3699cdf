"""Views of an execution in the shapes the official `bud` SDK reads: its steps, events and progress.

The real gateway has no steps or events route; the official SDK calls them anyway
(`executions.get_steps`, `get_events`, `stream_events`), so the local server serves them from the
stored step states. Pure: an execution (and its definition snapshot) in, JSON-ready data out.
Events are derived from the steps' timestamps, so the same state always yields the same events
with the same ids (the official `stream_events` deduplicates by id).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from budai_async._convert import converter, format_datetime
from budai_async._wire import progress_counts, step_wire
from budai_async.models import Execution, StepRun
from budai_server.progress import FINISHED_STEP, step_ids

__all__ = ["execution_events", "execution_steps", "progress_summary"]


def _names(definition: Mapping[str, Any]) -> dict[str, str]:
    steps = definition.get("steps")
    if not isinstance(steps, list):
        return {}
    return {
        str(step["id"]): str(step.get("name") or step["id"])
        for step in steps
        if isinstance(step, Mapping) and "id" in step
    }


def execution_steps(execution: Execution, definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The steps as gateway step objects in definition order, named as in the definition."""
    names = _names(definition)
    order = step_ids(definition) or list(execution.steps)
    return [
        step_wire(
            step_id,
            converter.unstructure(execution.steps.get(step_id, StepRun()), StepRun),
            names.get(step_id),
        )
        for step_id in order
    ]


def progress_summary(execution: Execution) -> dict[str, Any]:
    """The official SDK's `ExecutionProgress` fields (step counts by state, percent complete)."""
    statuses = [str(step.status) for step in execution.steps.values()]
    return progress_counts(statuses, execution.total_steps, execution.progress)


def _event(
    execution: Execution, kind: str, at: datetime, step_id: str | None = None, **data: Any
) -> tuple[datetime, dict[str, Any]]:
    return at, {
        "id": f"{execution.id}:{step_id or '-'}:{kind}",
        "execution_id": execution.id,
        "step_id": step_id,
        "type": kind,
        "data": data,
        "timestamp": format_datetime(at),
    }


def execution_events(
    execution: Execution, definition: Mapping[str, Any], step_id: str | None = None
) -> list[dict[str, Any]]:
    """Lifecycle events (created, started, each step's start and end, the end) oldest first."""
    created = execution.created_at or execution.started_at or execution.completed_at
    if created is None:
        return []
    found = [_event(execution, "execution.created", created, status="pending")]
    if execution.started_at is not None:
        found.append(_event(execution, "execution.started", execution.started_at, status="running"))
    for sid in step_ids(definition) or list(execution.steps):
        step = execution.steps.get(sid)
        if step is None:
            continue
        if step.started_at is not None:
            found.append(_event(execution, "step.started", step.started_at, sid, attempts=step.attempts))
        if step.status in FINISHED_STEP:
            at = step.completed_at or execution.completed_at or step.started_at or created
            found.append(
                _event(
                    execution,
                    f"step.{step.status}",
                    at,
                    sid,
                    status=str(step.status),
                    error=step.error,
                    skip_reason=step.skip_reason,
                    attempts=step.attempts,
                )
            )
    if execution.is_terminal and execution.completed_at is not None:
        found.append(
            _event(
                execution,
                f"execution.{execution.status}",
                execution.completed_at,
                status=str(execution.status),
                error=execution.error,
            )
        )
    found.sort(key=lambda pair: pair[0])
    events = [event for _at, event in found]
    if step_id is not None:
        events = [event for event in events if event["step_id"] == step_id]
    return events
