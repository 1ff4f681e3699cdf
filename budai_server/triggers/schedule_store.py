"""SQLite rows of schedules and their runs, on the server store's shared connection.

`commit_runs` is the heart of exactly-once firing: inside ONE transaction it inserts a run row per
decided run time (``INSERT OR IGNORE`` on the (schedule, run time, kind) key), stores the execution
of each fired run only when its row was new, applies the overlap policy against the previous
run's execution as stored in that same transaction, and advances the schedule's cursor.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from budai_server.store.database import Store
from budai_server.store.rows import db_time, dumps, parse_db_time
from budai_server.triggers.launch import Launch, insert_execution
from budai_server.triggers.paging import newest_first_page
from budai_server.triggers.timing import ScheduleSpec, make_spec

__all__ = ["RunOutcome", "RunPlan", "ScheduleRecord", "ScheduleRun", "ScheduleStore"]

_COLUMNS = (
    "id, pipeline_id, name, description, type, expression, timezone, run_at, params, priority, tags, "
    "callbacks, timeout_seconds, status, catchup, catchup_window_seconds, overlap, anchor_at, "
    "cursor_at, next_run_at, last_run_at, last_execution_id, run_count, skipped_count, created_at, "
    "updated_at"
)
_UNFINISHED = ("pending", "running")


def _time(value: datetime | None) -> str | None:
    return None if value is None else db_time(value)


def _req_time(value: str) -> datetime:
    parsed = parse_db_time(value)
    assert parsed is not None
    return parsed


@attrs.frozen(kw_only=True)
class ScheduleRecord:
    """One stored schedule (the server's view; routes render it for both wire shapes)."""

    id: str
    pipeline_id: str
    name: str
    description: str = ""
    type: str
    expression: str
    timezone: str = "UTC"
    run_at: datetime | None = None
    params: dict[str, Any] = attrs.field(factory=dict)
    priority: str = "normal"
    tags: list[str] = attrs.field(factory=list)
    callbacks: dict[str, str] = attrs.field(factory=dict)
    timeout_seconds: float | None = None
    status: str = "active"
    catchup: str = "latest"
    catchup_window_seconds: float
    overlap: str = "skip"
    anchor_at: datetime
    cursor_at: datetime
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    last_execution_id: str | None = None
    run_count: int = 0
    skipped_count: int = 0
    created_at: datetime
    updated_at: datetime

    def spec(self) -> ScheduleSpec:
        """The parsed timing (stored specs were checked when written)."""
        return make_spec(
            self.type, self.expression, timezone=self.timezone, run_at=self.run_at, anchor=self.anchor_at
        )

    def values(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.pipeline_id,
            self.name,
            self.description,
            self.type,
            self.expression,
            self.timezone,
            _time(self.run_at),
            dumps(self.params),
            self.priority,
            dumps(self.tags),
            dumps(self.callbacks),
            self.timeout_seconds,
            self.status,
            self.catchup,
            self.catchup_window_seconds,
            self.overlap,
            db_time(self.anchor_at),
            db_time(self.cursor_at),
            _time(self.next_run_at),
            _time(self.last_run_at),
            self.last_execution_id,
            self.run_count,
            self.skipped_count,
            db_time(self.created_at),
            db_time(self.updated_at),
        )


def _record(row: sqlite3.Row) -> ScheduleRecord:
    return ScheduleRecord(
        id=row["id"],
        pipeline_id=row["pipeline_id"],
        name=row["name"],
        description=row["description"],
        type=row["type"],
        expression=row["expression"],
        timezone=row["timezone"],
        run_at=parse_db_time(row["run_at"]),
        params=json.loads(row["params"]),
        priority=row["priority"],
        tags=json.loads(row["tags"]),
        callbacks=json.loads(row["callbacks"]),
        timeout_seconds=row["timeout_seconds"],
        status=row["status"],
        catchup=row["catchup"],
        catchup_window_seconds=float(row["catchup_window_seconds"]),
        overlap=row["overlap"],
        anchor_at=_req_time(row["anchor_at"]),
        cursor_at=_req_time(row["cursor_at"]),
        next_run_at=parse_db_time(row["next_run_at"]),
        last_run_at=parse_db_time(row["last_run_at"]),
        last_execution_id=row["last_execution_id"],
        run_count=int(row["run_count"]),
        skipped_count=int(row["skipped_count"]),
        created_at=_req_time(row["created_at"]),
        updated_at=_req_time(row["updated_at"]),
    )


@attrs.frozen(kw_only=True)
class ScheduleRun:
    """One decided run time: fired (with its execution), skipped or failed (with the reason)."""

    schedule_id: str
    run_at: datetime
    kind: str
    status: str
    reason: str | None
    execution_id: str | None
    recorded_at: datetime


@attrs.frozen(kw_only=True)
class RunPlan:
    """A run time to record: `launch` set means fire it, else skip/fail it for `reason`."""

    run_at: datetime
    kind: str = "scheduled"
    launch: Launch | None = None
    status: str = "skipped"
    reason: str | None = None


@attrs.frozen(kw_only=True)
class RunOutcome:
    """What `commit_runs` stored: the launches that are now pending executions, and every run row."""

    launched: list[Launch]
    runs: list[ScheduleRun]


class ScheduleStore:
    """Schedules and their runs (tables of the ``triggers`` migration component)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def insert(self, record: ScheduleRecord) -> None:
        marks = ", ".join("?" * len(record.values()))
        await self.store.run_transaction(
            lambda conn: conn.execute(f"INSERT INTO schedules ({_COLUMNS}) VALUES ({marks})", record.values())
        )

    async def get(self, schedule_id: str) -> ScheduleRecord | None:
        rows = await self.store.fetchall(f"SELECT {_COLUMNS} FROM schedules WHERE id = ?", (schedule_id,))
        return _record(rows[0]) if rows else None

    async def list(
        self, *, pipeline_id: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[builtins.list[ScheduleRecord], int]:
        """Newest first, filtered by pipeline and/or status; with the total matching."""
        rows, total = await newest_first_page(
            self.store,
            "schedules",
            _COLUMNS,
            {"pipeline_id": pipeline_id, "status": status},
            limit=limit,
            offset=offset,
        )
        return [_record(row) for row in rows], total

    async def replace(self, record: ScheduleRecord) -> bool:
        """Overwrite every column of an existing schedule; False when it is gone."""
        columns = [c.strip() for c in _COLUMNS.split(",")]
        assignments = ", ".join(f"{c} = ?" for c in columns[1:])
        values = record.values()
        return await self.store.run_transaction(
            lambda conn: (
                conn.execute(
                    f"UPDATE schedules SET {assignments} WHERE id = ?", (*values[1:], record.id)
                ).rowcount
                == 1
            )
        )

    async def delete(self, schedule_id: str) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM schedule_runs WHERE schedule_id = ?", (schedule_id,))
            return conn.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)).rowcount == 1

        return await self.store.run_transaction(write)

    async def due(self, now: datetime) -> builtins.list[ScheduleRecord]:
        """Active schedules whose next run time is at or before `now`."""
        rows = await self.store.fetchall(
            f"SELECT {_COLUMNS} FROM schedules WHERE status = 'active' AND next_run_at IS NOT NULL "
            "AND next_run_at <= ? ORDER BY next_run_at",
            (db_time(now),),
        )
        return [_record(row) for row in rows]

    async def earliest_next_run(self) -> datetime | None:
        rows = await self.store.fetchall(
            "SELECT MIN(next_run_at) FROM schedules WHERE status = 'active' AND next_run_at IS NOT NULL"
        )
        return parse_db_time(rows[0][0]) if rows and rows[0][0] else None

    async def runs(self, schedule_id: str, *, limit: int) -> builtins.list[ScheduleRun]:
        """The schedule's recorded runs, newest run time first."""
        rows = await self.store.fetchall(
            "SELECT schedule_id, run_at, kind, status, reason, execution_id, recorded_at FROM schedule_runs "
            "WHERE schedule_id = ? ORDER BY run_at DESC LIMIT ?",
            (schedule_id, limit),
        )
        return [
            ScheduleRun(
                schedule_id=row["schedule_id"],
                run_at=_req_time(row["run_at"]),
                kind=row["kind"],
                status=row["status"],
                reason=row["reason"],
                execution_id=row["execution_id"],
                recorded_at=_req_time(row["recorded_at"]),
            )
            for row in rows
        ]

    async def commit_runs(
        self,
        schedule_id: str,
        plans: Sequence[RunPlan],
        *,
        cursor: datetime | None,
        next_run_at: datetime | None,
        overlap: str,
        now: datetime,
        status_after: str | None = None,
    ) -> RunOutcome:
        """Record `plans` and store their executions exactly once (see the module docstring)."""

        def write(conn: sqlite3.Connection) -> RunOutcome:
            row = conn.execute(
                "SELECT last_execution_id, status FROM schedules WHERE id = ?", (schedule_id,)
            ).fetchone()
            scheduled = any(plan.kind == "scheduled" for plan in plans)
            if row is None or (scheduled and row[1] != "active"):  # deleted or paused meanwhile
                return RunOutcome(launched=[], runs=[])
            last_execution = row[0]
            launched: builtins.list[Launch] = []
            runs: builtins.list[ScheduleRun] = []
            fired = skipped = 0
            last_run: datetime | None = None
            for plan in plans:
                status, reason, launch = plan.status, plan.reason, plan.launch
                if launch is not None:
                    status = "fired"
                    if plan.kind == "scheduled" and overlap == "skip" and _unfinished(conn, last_execution):
                        status, reason, launch = "skipped", "overlap", None
                execution_id = launch.execution.id if launch is not None else None
                inserted = conn.execute(
                    "INSERT OR IGNORE INTO schedule_runs (schedule_id, run_at, kind, status, reason, "
                    "execution_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        schedule_id,
                        db_time(plan.run_at),
                        plan.kind,
                        status,
                        reason,
                        execution_id,
                        db_time(now),
                    ),
                ).rowcount
                if not inserted:
                    continue  # another task or process recorded this run time first
                if launch is not None:
                    insert_execution(conn, launch)
                    launched.append(launch)
                    last_execution = launch.execution.id
                    last_run = plan.run_at if last_run is None else max(last_run, plan.run_at)
                    fired += 1
                elif status == "skipped":
                    skipped += 1
                runs.append(
                    ScheduleRun(
                        schedule_id=schedule_id,
                        run_at=plan.run_at,
                        kind=plan.kind,
                        status=status,
                        reason=reason,
                        execution_id=execution_id,
                        recorded_at=now,
                    )
                )
            conn.execute(
                "UPDATE schedules SET run_count = run_count + ?, skipped_count = skipped_count + ?, "
                "last_execution_id = ?, last_run_at = CASE WHEN ? > 0 THEN ? ELSE last_run_at END, "
                "cursor_at = CASE WHEN ? IS NOT NULL AND ? > cursor_at THEN ? ELSE cursor_at END, "
                "next_run_at = CASE WHEN ? THEN ? ELSE next_run_at END, "
                "status = COALESCE(?, status) WHERE id = ?",
                (
                    fired,
                    skipped,
                    last_execution,
                    fired,
                    _time(last_run),
                    _time(cursor),
                    _time(cursor),
                    _time(cursor),
                    cursor is not None,
                    _time(next_run_at),
                    status_after,
                    schedule_id,
                ),
            )
            return RunOutcome(launched=launched, runs=runs)

        return await self.store.run_transaction(write)


def _unfinished(conn: sqlite3.Connection, execution_id: str | None) -> bool:
    if execution_id is None:
        return False
    row = conn.execute("SELECT status FROM executions WHERE id = ?", (execution_id,)).fetchone()
    return row is not None and row[0] in _UNFINISHED
