"""Rows of the server store: column lists and conversions between SQLite rows and wire models.

Shared by `store` and by modules that write the same tables in their own transactions
(`Store.run_transaction`), so every table keeps one definition of its columns.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

import attrs

from budai_async._convert import converter
from budai_async.models import Execution, ExecutionStatus, Pipeline, Priority, StepRun, StepStatus

__all__ = [
    "EXECUTION_COLUMNS",
    "EXECUTION_INSERT",
    "PIPELINE_COLUMNS",
    "IdempotencyRecord",
    "db_time",
    "dumps",
    "execution_from_row",
    "execution_update_values",
    "execution_values",
    "insert_idempotency",
    "parse_db_time",
    "pipeline_from_row",
    "pipeline_values",
]

EXECUTION_COLUMNS = (
    "seq, id, pipeline_id, status, priority, params, tags, outputs, error, steps, callbacks, "
    "timeout_seconds, retry_of, progress, completed_steps, total_steps, created_at, started_at, "
    "completed_at, duration_seconds, cpu_seconds, peak_memory_mb, context, initiator, user_id, "
    "callback_topics, subscriber_ids, payload_type, notification_workflow_id"
)
EXECUTION_INSERT = (
    f"INSERT INTO executions ({EXECUTION_COLUMNS}, definition) "
    "VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
"""Parameters: `execution_values(execution)` followed by the definition snapshot as JSON text."""

PIPELINE_COLUMNS = (
    "id, name, description, definition, tags, status, version, step_count, created_at, updated_at, "
    "icon, is_active"
)


def db_time(value: datetime) -> str:
    """Fixed-width UTC text (always microseconds), so string order is time order in SQL."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_db_time(value: str | None) -> datetime | None:
    """Inverse of `db_time`; None stays None."""
    return None if value is None else datetime.fromisoformat(value)


# One encoder for every call: `json.dumps` with options builds a new JSONEncoder each time, and
# the execution path writes several JSON columns per state change. Same text as `json.dumps`.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def dumps(value: Any) -> str:
    """Compact JSON for the JSON columns."""
    return _ENCODER.encode(value)


@attrs.frozen(kw_only=True)
class IdempotencyRecord:
    """The stored answer to the first request made with an `Idempotency-Key` on one route."""

    key: str
    route: str
    fingerprint: str
    status: int
    body: str
    created_at: datetime


def insert_idempotency(conn: sqlite3.Connection, record: IdempotencyRecord | None) -> None:
    """Store a key's answer inside the caller's transaction (first writer wins; None is a no-op)."""
    if record is None:
        return
    conn.execute(
        "INSERT OR IGNORE INTO idempotency_keys (key, route, fingerprint, status, body, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            record.key,
            record.route,
            record.fingerprint,
            record.status,
            record.body,
            db_time(record.created_at),
        ),
    )


def _opt_time(value: datetime | None) -> str | None:
    return None if value is None else db_time(value)


def pipeline_values(pipeline: Pipeline) -> tuple[Any, ...]:
    now = datetime.now(UTC)
    return (
        pipeline.id,
        pipeline.name,
        pipeline.description,
        dumps(pipeline.definition),
        dumps(pipeline.tags),
        pipeline.status,
        pipeline.version,
        pipeline.step_count,
        db_time(pipeline.created_at or now),
        db_time(pipeline.updated_at or now),
        pipeline.icon,
        int(pipeline.is_active),
    )


def pipeline_from_row(row: sqlite3.Row) -> Pipeline:
    return Pipeline(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        definition=json.loads(row["definition"]),
        tags=_tag_map(json.loads(row["tags"])),
        status=row["status"],
        version=int(row["version"]),
        step_count=int(row["step_count"]),
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        icon=row["icon"],
        is_active=bool(row["is_active"]),
    )


def _tag_map(value: Any) -> dict[str, str]:
    """Pipeline tags as stored: a map (migration 2 turned older lists into maps)."""
    return dict(value) if isinstance(value, dict) else {str(tag): "" for tag in value}


def _steps_json(steps: dict[str, StepRun]) -> str:
    return dumps(converter.unstructure(steps, dict[str, StepRun]))


def execution_values(execution: Execution) -> tuple[Any, ...]:
    """Column values in `EXECUTION_COLUMNS` order after `seq`."""
    return (
        execution.id,
        execution.pipeline_id,
        str(execution.status),
        str(execution.priority),
        dumps(execution.params),
        dumps(execution.tags),
        dumps(execution.outputs),
        execution.error,
        _steps_json(execution.steps),
        dumps(execution.callbacks),
        execution.timeout_seconds,
        execution.retry_of,
        execution.progress,
        execution.completed_steps,
        execution.total_steps,
        db_time(execution.created_at or datetime.now(UTC)),
        _opt_time(execution.started_at),
        _opt_time(execution.completed_at),
        execution.duration_seconds,
        execution.cpu_seconds,
        execution.peak_memory_mb,
        dumps(execution.context),
        execution.initiator,
        execution.user_id,
        dumps(execution.callback_topics),
        execution.subscriber_ids,
        execution.payload_type,
        execution.notification_workflow_id,
    )


def execution_update_values(execution: Execution) -> tuple[Any, ...]:
    return (
        str(execution.status),
        dumps(execution.outputs),
        execution.error,
        _steps_json(execution.steps),
        execution.progress,
        execution.completed_steps,
        execution.total_steps,
        _opt_time(execution.started_at),
        _opt_time(execution.completed_at),
        execution.duration_seconds,
        execution.cpu_seconds,
        execution.peak_memory_mb,
        execution.id,
    )


def _step_from_json(data: dict[str, Any]) -> StepRun:
    return StepRun(
        status=StepStatus(data.get("status", "pending")),
        output=data.get("output"),
        error=data.get("error"),
        attempts=int(data.get("attempts", 0)),
        skip_reason=data.get("skip_reason"),
        started_at=parse_db_time(data.get("started_at")),
        completed_at=parse_db_time(data.get("completed_at")),
        duration_seconds=data.get("duration_seconds"),
    )


def execution_from_row(row: sqlite3.Row) -> Execution:
    steps = json.loads(row["steps"])
    return Execution(
        id=row["id"],
        pipeline_id=row["pipeline_id"],
        status=ExecutionStatus(row["status"]),
        priority=Priority(row["priority"]),
        params=json.loads(row["params"]),
        tags=json.loads(row["tags"]),
        outputs=json.loads(row["outputs"]),
        error=row["error"],
        steps={step_id: _step_from_json(data) for step_id, data in steps.items()},
        progress=float(row["progress"]),
        completed_steps=int(row["completed_steps"]),
        total_steps=int(row["total_steps"]),
        created_at=parse_db_time(row["created_at"]),
        started_at=parse_db_time(row["started_at"]),
        completed_at=parse_db_time(row["completed_at"]),
        duration_seconds=row["duration_seconds"],
        cpu_seconds=row["cpu_seconds"],
        peak_memory_mb=row["peak_memory_mb"],
        retry_of=row["retry_of"],
        timeout_seconds=row["timeout_seconds"],
        callbacks=json.loads(row["callbacks"]),
        context=json.loads(row["context"]),
        initiator=row["initiator"],
        user_id=row["user_id"],
        callback_topics=json.loads(row["callback_topics"]),
        subscriber_ids=row["subscriber_ids"],
        payload_type=row["payload_type"],
        notification_workflow_id=row["notification_workflow_id"],
    )
