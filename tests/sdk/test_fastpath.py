"""The hand-compiled Execution/StepRun hooks give exactly what the generic converter gives.

The fast path handles our server's shape only; every other shape (the gateway's names, steps as a
list, progress as an object or `progress_percentage`, odd value types) must reach the generic path,
so each case here is structured by both converters and the results (or the failure) must agree.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from budai_async._convert import converter, make_converter, to_json_dict
from budai_async._fastpath import fast_callback_event, fast_execution, fast_step, parse_datetime
from budai_async.models import CallbackEvent, Execution, ExecutionStatus, Priority, StepRun, StepStatus

REFERENCE = make_converter(fast_paths=False)
T0 = datetime(2026, 3, 14, 10, 0, 0, 123456, tzinfo=UTC)

OURS: dict[str, Any] = to_json_dict(
    Execution(
        id="exec_1",
        pipeline_id="pipe_1",
        status=ExecutionStatus.COMPLETED,
        priority=Priority.HIGH,
        params={"a": 1, "nested": {"b": [1, 2]}},
        tags=["x", "y"],
        outputs={"ok": True},
        steps={
            "out": StepRun(
                status=StepStatus.COMPLETED,
                output={"ok": True},
                attempts=2,
                started_at=T0,
                completed_at=T0 + timedelta(seconds=1),
                duration_seconds=1.0,
            ),
            "skipped": StepRun(status=StepStatus.SKIPPED, skip_reason="condition_false"),
        },
        progress=100.0,
        completed_steps=1,
        total_steps=2,
        created_at=T0,
        started_at=T0,
        completed_at=T0,
        duration_seconds=0.5,
        cpu_seconds=0.01,
        peak_memory_mb=40.0,
        retry_of="exec_0",
        timeout_seconds=30.0,
        callbacks={"on_complete": "http://127.0.0.1/cb"},
    )
)


def _with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(OURS)
    for key, value in changes.items():
        if value is _DROP:
            data.pop(key, None)
        else:
            data[key] = value
    return data


_DROP = object()

FAST_CASES: list[dict[str, Any]] = [
    OURS,
    {"id": "exec_min"},
    _with(steps=None, tags=None, callbacks=None, priority=None, outputs=None, params=None),
    _with(status="INTERRUPTED", priority="urgent"),  # unknown enum values are kept
    _with(status="RUNNING"),  # upper case reads as the known member
    _with(progress=50),
    _with(id=12, pipeline_id=7, retry_of=3),  # cattrs' str() of non-strings
    _with(
        created_at=1_700_000_000, started_at="2026-03-14T10:00:00+02:00", completed_at="2026-03-14T10:00:00"
    ),
    _with(extra_key_from_a_newer_server={"x": 1}),
    _with(steps={"a": {"status": "retrying", "attempts": 3.0, "started_at": "2026-03-14T10:00:00Z"}}),
]

FALLBACK_CASES: list[dict[str, Any]] = [
    _with(steps=[{"id": "a", "status": "completed", "output": {"v": 1}}]),  # steps as a list
    _with(progress={"percent": 40.0}),  # progress as an object
    _with(progress=_DROP, progress_percentage=40.0),
    _with(progress="40"),
    _with(progress=True),
    _with(error={"message": "boom"}),  # the gateway's error object
    _with(id=_DROP, execution_id="exec_gw", workflow_id="wf", final_outputs={"x": 1}, start_time=None),
    {"execution": {"execution_id": "e", "status": "RUNNING"}, "steps": [], "aggregated_progress": {}},
    _with(steps={"a": {"status": "completed", "error": {"message": "x"}}}),
    _with(tags="abc"),
]

BROKEN_CASES: list[Any] = [
    _with(completed_steps="many"),
    _with(created_at="not a date"),
    _with(steps={"a": {"attempts": "x"}}),
    _with(id=_DROP),
    _with(callbacks=[["on_complete", "u"]]),
    [OURS],
]


@pytest.mark.parametrize("data", FAST_CASES + FALLBACK_CASES)
def test_same_model_as_the_generic_converter(data: dict[str, Any]) -> None:
    assert converter.structure(copy.deepcopy(data), Execution) == REFERENCE.structure(
        copy.deepcopy(data), Execution
    )


@pytest.mark.parametrize("data", FAST_CASES)
def test_our_server_shape_takes_the_fast_path(data: dict[str, Any]) -> None:
    assert fast_execution(data) is not None


@pytest.mark.parametrize("data", FALLBACK_CASES + BROKEN_CASES)
def test_other_shapes_are_left_to_the_generic_path(data: Any) -> None:
    assert fast_execution(data) is None


@pytest.mark.parametrize("data", BROKEN_CASES)
def test_bad_values_fail_the_same_way(data: Any) -> None:
    with pytest.raises(Exception) as ours:
        converter.structure(copy.deepcopy(data), Execution)
    with pytest.raises(Exception) as reference:
        REFERENCE.structure(copy.deepcopy(data), Execution)
    assert type(ours.value) is type(reference.value)


def test_steps_structure_alone_like_the_generic_converter() -> None:
    for raw in OURS["steps"].values():
        assert fast_step(raw) == REFERENCE.structure(raw, StepRun) == converter.structure(raw, StepRun)
    assert fast_step({"error": 5}) is None
    assert converter.structure({"error": 5}, StepRun) == REFERENCE.structure({"error": 5}, StepRun)


def _old_parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-14T10:00:00Z",
        "2026-03-14T10:00:00.123456Z",
        "2026-03-14T10:00:00.123Z",
        "2026-03-14T10:00:00+05:30",
        "2026-03-14T10:00:00",
        "2026-03-14 10:00:00Z",
        "2026-03-14",
    ],
)
def test_datetime_fast_path_reads_what_the_old_parser_read(text: str) -> None:
    assert parse_datetime(text) == _old_parse(text)
    assert parse_datetime(text).tzinfo is not None


def test_datetime_other_inputs() -> None:
    naive = datetime(2026, 1, 1)
    assert parse_datetime(naive) == naive.replace(tzinfo=UTC)
    aware = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert parse_datetime(aware) is aware
    assert parse_datetime(0) == datetime(1970, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_datetime("yesterday")
    with pytest.raises(ValueError):
        parse_datetime([1])


EVENT: dict[str, Any] = {
    "type": "execution.completed",
    "execution_id": "exec_1",
    "pipeline_id": "pipe_1",
    "status": "completed",
    "outputs": {"answer": 42},
    "error": None,
    "tags": ["a"],
    "params": {"p": 1},
    "completed_at": "2025-01-01T00:00:00Z",
    "duration_seconds": 1.5,
}


@pytest.mark.parametrize(
    ("changes", "fast"),
    [
        ({}, True),
        ({"status": "FAILED", "error": "boom", "duration_seconds": 2}, True),
        ({"new_field": 1, "completed_at": None, "pipeline_id": None}, True),
        ({"status": "paused"}, True),
        ({"error": {"message": "x"}}, False),
        ({"outputs": None}, False),
        ({"tags": None}, False),
        ({"tags": "a"}, False),
        ({"execution_id": 5}, False),
        ({"completed_at": "soon"}, False),
    ],
)
def test_callback_events_match_the_generic_converter(changes: dict[str, Any], fast: bool) -> None:
    data = {**EVENT, **changes}
    assert (fast_callback_event(data) is not None) is fast
    try:
        expected: Any = REFERENCE.structure(copy.deepcopy(data), CallbackEvent)
    except Exception as exc:
        with pytest.raises(type(exc)):
            converter.structure(copy.deepcopy(data), CallbackEvent)
    else:
        assert converter.structure(copy.deepcopy(data), CallbackEvent) == expected
