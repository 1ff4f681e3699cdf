"""Where our models and the BudAI gateway's wire disagree: the rewrites in both directions.

The gateway (and the official `bud` SDK's models) carry an execution's `steps` as a list of step
objects and `progress` as an object (or `progress_percentage` as a decimal string), and a
pipeline's `tags` as a string map. Our models keep `Execution.steps` a mapping by step id and
`Execution.progress` a number, as the guide uses them. `execution_wire` turns our unstructured
execution into the gateway-typed wire; `steps_from_wire` and `progress_from_wire` read it back
(and older answers of our own server). The table is in docs/compatibility.md. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "GATEWAY_STEP_STATUS",
    "error_text",
    "execution_wire",
    "pipeline_wire",
    "progress_counts",
    "progress_from_wire",
    "step_wire",
    "steps_from_wire",
    "tags_from_wire",
]

# The official SDK's StepStatus has five values; our finer statuses travel in `run_status`.
GATEWAY_STEP_STATUS = {
    "pending": "pending",
    "running": "running",
    "retrying": "running",
    "completed": "completed",
    "failed": "failed",
    "timeout": "failed",
    "cancelled": "failed",
    "skipped": "skipped",
}
_FAILED = frozenset({"failed", "timeout", "cancelled"})
_RUNNING = frozenset({"running", "retrying"})


def step_wire(step_id: str, step: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """One unstructured `StepRun` as a gateway step object with its id (`output` only when set)."""
    status = str(step.get("status", "pending"))
    out: dict[str, Any] = {
        "id": step_id,
        "node_id": step_id,
        "step_id": step_id,
        "name": name or step_id,
        "status": GATEWAY_STEP_STATUS.get(status, "pending"),
        "run_status": status,
    }
    for key, value in step.items():
        if key == "status" or (key == "output" and value is None):
            continue
        out[key] = value
    seconds = step.get("duration_seconds")
    out["duration_ms"] = None if seconds is None else int(seconds * 1000)
    return out


def progress_counts(statuses: list[str], total: int, percent: float) -> dict[str, Any]:
    """The official SDK's `ExecutionProgress` object from the steps' statuses."""
    completed = failed = running = pending = skipped = 0
    for status in statuses:
        if status == "completed":
            completed += 1
        elif status in _FAILED:
            failed += 1
        elif status in _RUNNING:
            running += 1
        elif status == "skipped":
            skipped += 1
        else:
            pending += 1
    return {
        "total_steps": total or len(statuses),
        "completed_steps": completed,
        "failed_steps": failed,
        "running_steps": running,
        "pending_steps": pending,
        "skipped_steps": skipped,
        "percent_complete": float(percent),
    }


def execution_wire(data: dict[str, Any]) -> dict[str, Any]:
    """Rewrite an unstructured `Execution` (steps a mapping, progress a number) into the wire shape."""
    steps = data.get("steps") or {}
    percent = float(data.get("progress") or 0.0)
    data["steps"] = [step_wire(step_id, step) for step_id, step in steps.items()]
    data["progress"] = progress_counts(
        [str(step.get("status", "pending")) for step in steps.values()],
        int(data.get("total_steps") or 0),
        percent,
    )
    data["progress_percentage"] = f"{percent:.2f}"
    seconds = data.get("duration_seconds")
    data["duration_ms"] = None if seconds is None else int(seconds * 1000)
    return data


def pipeline_wire(data: dict[str, Any]) -> dict[str, Any]:
    """Add the gateway's `dag` (the definition) to an unstructured `Pipeline`."""
    data["dag"] = data.get("definition")
    return data


def error_text(value: Any) -> str | None:
    """An error as text: a string as is, the gateway's `{error|message|detail}` object's message."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in ("error", "message", "detail"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return str(value)


def steps_from_wire(items: list[Any]) -> dict[str, Any]:
    """A list of step objects (ours, or the gateway's progress steps) as our mapping by step id."""
    steps: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, Mapping):
            continue
        step_id = item.get("step_id") or item.get("node_id") or item.get("id")
        retries = item.get("retry_count")
        attempts = int(retries or 0) + 1 if "retry_count" in item else item.get("attempts", 0)
        steps[str(step_id)] = {
            "status": item.get("run_status") or item.get("status", "pending"),
            "output": item.get("outputs", item.get("output")),
            "error": error_text(item.get("error_message", item.get("error"))),
            "attempts": attempts,
            "skip_reason": item.get("skip_reason"),
            "started_at": item.get("start_time", item.get("started_at")),
            "completed_at": item.get("end_time", item.get("completed_at")),
            "duration_seconds": item.get("duration_seconds"),
        }
    return steps


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def progress_from_wire(data: Mapping[str, Any]) -> float:
    """Our 0-100 number from `progress` (a number or the gateway object) or `progress_percentage`."""
    progress = data.get("progress")
    if isinstance(progress, Mapping):
        if "percent_complete" in progress:
            return _number(progress["percent_complete"])
        progress = None
    if progress is None:
        progress = data.get("progress_percentage")
    return _number(progress)


def tags_from_wire(value: Any) -> dict[str, str] | None:
    """A pipeline's tags as the string map; a list (older answers, our old SDK) maps each tag to ""."""
    if isinstance(value, Mapping):
        return {str(key): "" if item is None else str(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return {str(tag): "" for tag in value}
    return None
