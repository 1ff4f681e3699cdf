"""Every wire model survives JSON and back, ignores unknown keys, and keeps unknown enum values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from budai_async import models
from budai_async._convert import converter, to_json_dict
from budai_async.models import (
    Action,
    ActionParam,
    CallbackEvent,
    Execution,
    ExecutionStatus,
    LogEntry,
    LogLevel,
    Pipeline,
    Priority,
    StepRun,
    StepStatus,
    ValidationIssue,
    ValidationResult,
)

T0 = datetime(2026, 3, 14, 10, 0, 0, 123456, tzinfo=UTC)
T1 = datetime(2026, 3, 14, 10, 0, 2, tzinfo=UTC)

SAMPLES: list[Any] = [
    Pipeline(
        id="pipe_1",
        name="Deploy Model",
        description="d",
        definition={"steps": [{"id": "a", "action": "log", "params": {"message": "hi"}}]},
        tags={"env": "prod"},
        status="active",
        is_active=False,
        icon="rocket",
        version=3,
        step_count=1,
        created_at=T0,
        updated_at=T1,
    ),
    StepRun(
        status=StepStatus.SKIPPED,
        output={"x": [1, 2]},
        error=None,
        attempts=2,
        skip_reason="condition_false",
        started_at=T0,
        completed_at=T1,
        duration_seconds=1.877,
    ),
    Execution(
        id="exec_1",
        pipeline_id="pipe_1",
        status=ExecutionStatus.COMPLETED,
        priority=Priority.HIGH,
        params={"cluster_id": "cluster_prod", "replicas": 3},
        tags=["production", "customer-123"],
        outputs={"deployment_id": "dep_1", "endpoint_url": "https://x"},
        error=None,
        steps={"deploy": StepRun(status=StepStatus.COMPLETED, output={"deployment_id": "dep_1"}, attempts=1)},
        progress=100.0,
        completed_steps=2,
        total_steps=2,
        created_at=T0,
        started_at=T0,
        completed_at=T1,
        duration_seconds=1.9,
        cpu_seconds=0.02,
        peak_memory_mb=41.5,
        retry_of="exec_0",
        timeout_seconds=60.0,
        callbacks={"on_complete": "https://hooks.example.com/c"},
        context={"tenant": "t1"},
        initiator="api",
        user_id="u1",
        callback_topics=["progress"],
        subscriber_ids="u1,u2",
        payload_type="custom",
        notification_workflow_id="wf_1",
    ),
    LogEntry(
        seq=7, timestamp=T0, level=LogLevel.ERROR, message="boom", step_id="deploy", execution_id="exec_1"
    ),
    Action(
        type="delay",
        description="Wait",
        aliases=["wait"],
        params_schema={"type": "object", "properties": {"seconds": {"type": "number"}}},
        outputs=["waited_seconds"],
        category="builtin",
        name="Delay",
        params=[ActionParam(name="seconds", type="number", required=True)],
    ),
    ActionParam(name="level", type="string", default="info", options=[{"label": "info", "value": "info"}]),
    ValidationIssue(path="steps[0].action", message="unknown action", code="unknown_action"),
    ValidationResult(
        valid=False,
        errors=[ValidationIssue(path="steps", message="empty", code="empty")],
        warnings=[ValidationIssue(path="steps[0].params.x", message="undeclared", code="undeclared_param")],
    ),
    CallbackEvent(
        type="execution.failed",
        execution_id="exec_1",
        pipeline_id="pipe_1",
        status=ExecutionStatus.FAILED,
        outputs={},
        error="deploy failed",
        tags=["t"],
        params={"a": 1},
        completed_at=T1,
        duration_seconds=2.0,
    ),
]


def test_every_model_has_a_sample() -> None:
    classes = {getattr(models, name) for name in models.__all__ if attrs.has(getattr(models, name))}
    classes.discard(models.Page)  # generic container, covered by the page tests
    assert classes == {type(sample) for sample in SAMPLES}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_json_round_trip(sample: Any) -> None:
    wire = json.loads(json.dumps(to_json_dict(sample)))
    assert converter.structure(wire, type(sample)) == sample


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_unknown_keys_are_ignored(sample: Any) -> None:
    wire = {**to_json_dict(sample), "added_by_a_newer_server": {"x": 1}}
    assert converter.structure(wire, type(sample)) == sample


def test_unknown_enum_values_are_kept_and_compare_as_strings() -> None:
    wire = to_json_dict(SAMPLES[2])
    wire.update(status="PAUSED", priority="urgent")
    deploy = next(step for step in wire["steps"] if step["id"] == "deploy")
    deploy["run_status"] = "waiting_for_event"
    execution = converter.structure(wire, Execution)
    assert execution.status == "paused" and str(execution.status) == "paused"
    assert execution.priority == "urgent"
    assert execution.steps["deploy"].status == "waiting_for_event"
    assert converter.structure(json.loads(json.dumps(to_json_dict(execution))), Execution) == execution


def test_datetimes_parse_from_z_offsets_and_epoch() -> None:
    for value in ("2026-03-14T10:00:00.123456Z", "2026-03-14T12:00:00.123456+02:00", T0.timestamp()):
        entry = converter.structure({"seq": 1, "timestamp": value}, LogEntry)
        assert entry.timestamp == T0
