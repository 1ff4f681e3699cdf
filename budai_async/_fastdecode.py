"""Our server's execution answers decoded straight from their bytes into `Execution` (the SDK's hot path).

`executions.get` is the call made most often, and `executions.list` pages hold many executions.
Decoding a body to dicts and then structuring them (`_fastpath.fast_execution`) cost about 13 µs
for a 1.1 kB execution; here msgspec reads the bytes into typed structs in C, checking each value's
type as it goes, and one constructor call builds the model: about 8 µs. It accepts a subset of what
`fast_execution` accepts (our wire, values of exactly the types our server writes) and builds the
same model from it; anything else (the older shape with `steps` as a mapping, the gateway's names
or paging, a number where a string belongs, invalid JSON) returns None, and the caller decodes the
body to dicts and takes the usual path, which stays the reference. `tests/sdk/test_fastdecode.py`
holds this to it on every case `_fastpath` is tested with and on real answers of the real server.

Every key our server writes is declared and any other key refuses the body (`forbid_unknown_fields`):
a typed decoder skips unknown keys without reading them, so it would accept text `json.loads`
refuses there (invalid UTF-8, a number past the int digit limit); and the gateway's keys
(`execution_id`, `workflow_id`, a step's `retry_count`, a page's `pagination` ...) are what
`_fastpath` calls "not ours", so refusing them sends those shapes down the dict path as well. A
key a newer server adds sends its answers down the usual path too, at the old cost, until it is
declared here (the real-answers test fails first).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from budai_async._fastpath import (
    EXECUTION_STATUSES,
    PRIORITIES,
    STEP_STATUSES,
    optional_datetime,
    read_enum,
)
from budai_async.models import Execution, ExecutionStatus, Page, Priority, StepRun, StepStatus

__all__ = ["decode_execution", "decode_execution_page"]

_UNSET: Final = msgspec.UNSET


class _Step(msgspec.Struct, forbid_unknown_fields=True):
    """One of our wire's step objects (`_wire.execution_wire`)."""

    step_id: str
    run_status: str | None = None
    status: str = "pending"
    output: Any = None
    error: str | None = None
    attempts: int = 0
    skip_reason: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    duration_seconds: float | None = None
    # Written by our wire, not read into the model.
    id: Any = _UNSET
    node_id: Any = _UNSET
    name: Any = _UNSET
    duration_ms: Any = _UNSET


class _Progress(msgspec.Struct, forbid_unknown_fields=True):
    """The gateway's progress object; only the percentage is read."""

    percent_complete: float
    total_steps: Any = _UNSET
    completed_steps: Any = _UNSET
    failed_steps: Any = _UNSET
    running_steps: Any = _UNSET
    pending_steps: Any = _UNSET
    skipped_steps: Any = _UNSET


class _Execution(msgspec.Struct, forbid_unknown_fields=True):
    """Our wire's execution object."""

    id: str
    pipeline_id: str | None = None
    status: str = "pending"
    priority: str | None = None
    params: dict[str, Any] | None = None
    tags: list[str] | None = None
    outputs: dict[str, Any] | None = None
    error: str | None = None
    steps: list[_Step] | None = None
    progress: _Progress | float | None = None
    progress_percentage: Any = _UNSET
    completed_steps: int = 0
    total_steps: int = 0
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    duration_seconds: float | None = None
    cpu_seconds: float | None = None
    peak_memory_mb: float | None = None
    retry_of: str | None = None
    timeout_seconds: float | None = None
    callbacks: dict[str, str] | None = None
    context: dict[str, Any] | None = None
    initiator: str | None = None
    user_id: str | None = None
    callback_topics: list[str] | None = None
    subscriber_ids: str | None = None
    payload_type: str | None = None
    notification_workflow_id: str | None = None
    duration_ms: Any = _UNSET  # written by our wire, not read into the model


class _Page(msgspec.Struct, forbid_unknown_fields=True):
    """Our list answer ``{items, total, limit, offset, next_cursor}``."""

    items: list[_Execution]
    total: int | None = None
    limit: int | None = None
    offset: int | None = None
    next_cursor: str | None = None


_decode = msgspec.json.Decoder(_Execution).decode
_decode_page = msgspec.json.Decoder(_Page).decode


def _steps(steps: list[_Step] | None) -> dict[str, StepRun] | None:
    runs: dict[str, StepRun] = {}
    for step in steps or ():
        if not step.step_id:
            return None
        runs[step.step_id] = StepRun(
            status=read_enum(StepStatus, STEP_STATUSES, step.run_status or step.status),
            output=step.output,
            error=step.error,
            attempts=step.attempts,
            skip_reason=step.skip_reason,
            started_at=optional_datetime(step.started_at),
            completed_at=optional_datetime(step.completed_at),
            duration_seconds=step.duration_seconds,
        )
    return runs


def _progress(wire: _Execution) -> float | None:
    progress = wire.progress
    if type(progress) is _Progress:
        return progress.percent_complete
    if progress is None:
        return 0.0 if wire.progress_percentage is _UNSET else None  # the dict path decides
    return progress  # type: ignore[return-value]  # a float: the older plain number


def decode_execution(body: bytes) -> Execution | None:
    """The `Execution` in our server's answer `body`, or None when the dict path must decide."""
    try:
        wire = _decode(body)
    except (msgspec.DecodeError, ValueError):  # not our shape, not JSON, not UTF-8 (older msgspec)
        return None
    return _execution(wire)


def decode_execution_page(body: bytes) -> Page[Execution] | None:
    """The page of executions in our server's list answer `body`, or None for the dict path."""
    try:
        wire = _decode_page(body)
    except (msgspec.DecodeError, ValueError):
        return None
    items = []
    for item in wire.items:
        execution = _execution(item)
        if execution is None:
            return None
        items.append(execution)
    return Page(
        items=items, total=wire.total, limit=wire.limit, offset=wire.offset, next_cursor=wire.next_cursor
    )


def _execution(wire: _Execution) -> Execution | None:
    """The model from one decoded execution; None when a value is for the dict path to judge."""
    progress = _progress(wire)
    if progress is None:
        return None
    try:
        steps = _steps(wire.steps)
        if steps is None:
            return None
        priority = wire.priority
        return Execution(
            id=wire.id,
            pipeline_id=wire.pipeline_id,
            status=read_enum(ExecutionStatus, EXECUTION_STATUSES, wire.status),
            priority=Priority.NORMAL if priority is None else read_enum(Priority, PRIORITIES, priority),
            params={} if wire.params is None else wire.params,
            tags=[] if wire.tags is None else wire.tags,
            outputs={} if wire.outputs is None else wire.outputs,
            error=wire.error,
            steps=steps,
            progress=progress,
            completed_steps=wire.completed_steps,
            total_steps=wire.total_steps,
            created_at=optional_datetime(wire.created_at),
            started_at=optional_datetime(wire.started_at),
            completed_at=optional_datetime(wire.completed_at),
            duration_seconds=wire.duration_seconds,
            cpu_seconds=wire.cpu_seconds,
            peak_memory_mb=wire.peak_memory_mb,
            retry_of=wire.retry_of,
            timeout_seconds=wire.timeout_seconds,
            callbacks={} if wire.callbacks is None else wire.callbacks,
            context={} if wire.context is None else wire.context,
            initiator=wire.initiator,
            user_id=wire.user_id,
            callback_topics=[] if wire.callback_topics is None else wire.callback_topics,
            subscriber_ids=wire.subscriber_ids,
            payload_type=wire.payload_type,
            notification_workflow_id=wire.notification_workflow_id,
        )
    except ValueError:  # a datetime or enum value the dict path reports in its own words
        return None
