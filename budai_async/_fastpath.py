"""Hand-compiled structuring of our own server's `Execution` / `StepRun` dicts (the SDK's hot path).

`executions.get` is the call made most often, and the generic path (copy + `normalize_execution` +
cattrs' per-field hooks) cost about as much CPU as the HTTP request itself. These functions build the
models straight from the dict our server writes: the wire of `_wire.execution_wire` (`steps` a list
of step objects with ids and `run_status`, `progress` the gateway's object, `progress_percentage`),
and the older shape (`steps` a mapping, `progress` a number). Anything else (the gateway's names,
a step object without our ids, a value of an unexpected type) makes them return None and the caller
uses the generic converter, which stays the reference. A value that would make the generic path
raise also returns None here, so errors keep its wording.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from budai_async.models import CallbackEvent, Execution, ExecutionStatus, Priority, StepRun, StepStatus

__all__ = [
    "EXECUTION_STATUSES",
    "PRIORITIES",
    "STEP_STATUSES",
    "fast_callback_event",
    "fast_execution",
    "fast_step",
    "optional_datetime",
    "parse_datetime",
    "read_enum",
]

# Keys that `normalize_execution` reads to map another shape: their presence means "not ours".
E = TypeVar("E", ExecutionStatus, StepStatus, Priority)
_FOREIGN_KEYS: Final = frozenset(
    {
        "execution",
        "execution_id",
        "workflow_id",
        "pipeline_definition",
        "final_outputs",
        "error_info",
        "start_time",
        "end_time",
        "aggregated_progress",
    }
)
# Keys of other step objects that `steps_from_wire` reads before ours: their presence means "not ours".
_FOREIGN_STEP_KEYS: Final = ("retry_count", "outputs", "error_message", "start_time", "end_time")
_NUMBERS: Final = (int, float)
# Known enum values by text: a dict hit instead of EnumType.__call__ (unknown values still go through it).
EXECUTION_STATUSES: Final = dict(ExecutionStatus._value2member_map_)
STEP_STATUSES: Final = dict(StepStatus._value2member_map_)
PRIORITIES: Final = dict(Priority._value2member_map_)
_fromisoformat = datetime.fromisoformat


def parse_datetime(value: Any) -> datetime:
    """Parse an ISO-8601 string (``Z`` accepted) or epoch seconds into an aware datetime."""
    if type(value) is str:
        try:
            parsed = _fromisoformat(value)  # 3.11+: reads "Z" and every form the server writes
        except ValueError:
            parsed = _fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):  # a str subclass
        return parse_datetime(str(value))
    raise ValueError(f"not a datetime: {value!r}")


def read_enum(cls: type[E], known: dict[Any, Any], value: Any) -> E:
    """The member for `value`: a dict hit for known text, else the enum's own (open) lookup."""
    member = known.get(value) if type(value) is str else None
    return member if member is not None else cls(value)


def optional_datetime(value: Any) -> datetime | None:
    """`parse_datetime`, with None kept as None."""
    return None if value is None else parse_datetime(value)


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _object(value: Any) -> dict[str, Any] | None:
    """A JSON object field (None -> {}); None (meaning: use the generic path) for anything else."""
    if value is None:
        return {}
    if type(value) is dict:
        return {str(key): item for key, item in value.items()}
    return None


def fast_step(data: Any) -> StepRun | None:
    """A `StepRun` from our server's step dict, or None when the generic path must decide."""
    if type(data) is not dict:
        return None
    get = data.get
    error = get("error")
    if error is not None and type(error) is not str:
        return None
    return _step_run(data, get("status", StepStatus.PENDING))


def _step_run(data: dict[str, Any], status: Any) -> StepRun | None:
    """The `StepRun` both step shapes share, its status read by the caller; None on a bad value."""
    get = data.get
    try:
        return StepRun(
            status=read_enum(StepStatus, STEP_STATUSES, status),
            output=get("output"),
            error=get("error"),
            attempts=int(get("attempts", 0)),
            skip_reason=_text(get("skip_reason")),
            started_at=optional_datetime(get("started_at")),
            completed_at=optional_datetime(get("completed_at")),
            duration_seconds=_seconds(get("duration_seconds")),
        )
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _wire_step(item: Any) -> tuple[str, StepRun] | None:
    """(step id, `StepRun`) from one of our wire's step objects, as `steps_from_wire` reads it."""
    if type(item) is not dict:
        return None
    get = item.get
    step_id, error = get("step_id"), get("error")
    if (
        type(step_id) is not str
        or not step_id
        or (error is not None and type(error) is not str)
        or any(key in item for key in _FOREIGN_STEP_KEYS)
    ):
        return None
    run = _step_run(item, get("run_status") or get("status", "pending"))
    return None if run is None else (step_id, run)


def _steps(steps: Any) -> dict[str, StepRun] | None:
    """Steps as our mapping: the wire's list of step objects, or the older mapping by step id."""
    runs: dict[str, StepRun] = {}
    if steps is None:
        return runs
    if type(steps) is list:
        for item in steps:
            pair = _wire_step(item)
            if pair is None:
                return None
            runs[pair[0]] = pair[1]
        return runs
    if type(steps) is dict:
        for key, value in steps.items():
            run = fast_step(value)
            if run is None:
                return None
            runs[str(key)] = run
        return runs
    return None


def _progress(data: dict[str, Any]) -> float | None:
    """The 0-100 number from the wire's `progress` object or the older plain number."""
    progress: Any = data.get("progress")
    if type(progress) is dict:
        progress = progress.get("percent_complete")
        return float(progress) if type(progress) in _NUMBERS else None
    if type(progress) in _NUMBERS:
        return float(progress)
    if progress is None and "progress_percentage" not in data:
        return 0.0
    return None  # text, a bool, an object without `percent_complete`: `progress_from_wire` decides


def fast_execution(data: Any) -> Execution | None:
    """An `Execution` from our server's dict, or None when the generic path must decide."""
    if type(data) is not dict or "id" not in data or not _FOREIGN_KEYS.isdisjoint(data):
        return None
    get = data.get
    runs, progress = _steps(get("steps")), _progress(data)
    error = get("error")
    params, outputs, context = _object(get("params")), _object(get("outputs")), _object(get("context"))
    tags, callbacks, priority, topics = get("tags"), get("callbacks"), get("priority"), get("callback_topics")
    if (
        runs is None
        or progress is None
        or (error is not None and type(error) is not str)
        or params is None
        or outputs is None
        or context is None
        or (tags is not None and type(tags) is not list)
        or (callbacks is not None and type(callbacks) is not dict)
        or (topics is not None and type(topics) is not list)
    ):
        return None
    try:
        return Execution(
            id=str(data["id"]),
            pipeline_id=_text(get("pipeline_id")),
            status=read_enum(ExecutionStatus, EXECUTION_STATUSES, get("status", ExecutionStatus.PENDING)),
            priority=Priority.NORMAL if priority is None else read_enum(Priority, PRIORITIES, priority),
            params=params,
            tags=[] if tags is None else [str(tag) for tag in tags],
            outputs=outputs,
            error=error,
            steps=runs,
            progress=progress,
            completed_steps=int(get("completed_steps", 0)),
            total_steps=int(get("total_steps", 0)),
            created_at=optional_datetime(get("created_at")),
            started_at=optional_datetime(get("started_at")),
            completed_at=optional_datetime(get("completed_at")),
            duration_seconds=_seconds(get("duration_seconds")),
            cpu_seconds=_seconds(get("cpu_seconds")),
            peak_memory_mb=_seconds(get("peak_memory_mb")),
            retry_of=_text(get("retry_of")),
            timeout_seconds=_seconds(get("timeout_seconds")),
            callbacks={} if callbacks is None else {str(k): str(v) for k, v in callbacks.items()},
            context=context,
            initiator=_text(get("initiator")),
            user_id=_text(get("user_id")),
            callback_topics=[] if topics is None else [str(topic) for topic in topics],
            subscriber_ids=_text(get("subscriber_ids")),
            payload_type=_text(get("payload_type")),
            notification_workflow_id=_text(get("notification_workflow_id")),
        )
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def fast_callback_event(data: Any) -> CallbackEvent | None:
    """A `CallbackEvent` from a callback body (the receiver's hot path), or None for the generic path."""
    if type(data) is not dict:
        return None
    get = data.get
    kind, execution_id, error = get("type"), get("execution_id"), get("error")
    outputs, params, tags = get("outputs", {}), get("params", {}), get("tags", [])
    if (
        type(kind) is not str
        or type(execution_id) is not str
        or (error is not None and type(error) is not str)
        or type(outputs) is not dict
        or type(params) is not dict
        or type(tags) is not list
    ):
        return None
    try:
        return CallbackEvent(
            type=kind,
            execution_id=execution_id,
            pipeline_id=_text(get("pipeline_id")),
            status=read_enum(ExecutionStatus, EXECUTION_STATUSES, get("status", ExecutionStatus.COMPLETED)),
            outputs={str(key): item for key, item in outputs.items()},
            error=error,
            tags=[str(tag) for tag in tags],
            params={str(key): item for key, item in params.items()},
            completed_at=optional_datetime(get("completed_at")),
            duration_seconds=_seconds(get("duration_seconds")),
        )
    except (TypeError, ValueError, OverflowError, OSError):
        return None
