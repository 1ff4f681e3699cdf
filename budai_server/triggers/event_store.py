"""Event triggers: their rows, chain lineage, and the exactly-once claim of one firing.

One `event_firings` row per (trigger, source execution) means a terminal event fires each trigger
at most once, even if the listener ran twice for the same execution. `trigger_lineage` remembers,
for every execution an event trigger started, the chain it belongs to (root execution, depth,
pipelines so far), which is what the loop guard reads.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from datetime import datetime
from typing import Any

import attrs

from budai_server.store.database import Store
from budai_server.store.rows import db_time, dumps, parse_db_time
from budai_server.triggers.launch import Launch, insert_execution
from budai_server.triggers.paging import newest_first_page

__all__ = ["EventTriggerRecord", "EventTriggerStore", "Lineage"]

_COLUMNS = (
    "id, pipeline_id, name, description, event_type, filter, params, priority, tags, is_active, "
    "max_chain_depth, allow_cycles, fire_count, last_fired_at, created_at, updated_at"
)


@attrs.frozen(kw_only=True)
class EventTriggerRecord:
    id: str
    pipeline_id: str
    name: str
    description: str = ""
    event_type: str
    filter: dict[str, Any] = attrs.field(factory=dict)
    params: dict[str, Any] = attrs.field(factory=dict)
    priority: str = "normal"
    tags: list[str] = attrs.field(factory=list)
    is_active: bool = True
    max_chain_depth: int
    allow_cycles: bool = False
    fire_count: int = 0
    last_fired_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    def values(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.pipeline_id,
            self.name,
            self.description,
            self.event_type,
            dumps(self.filter),
            dumps(self.params),
            self.priority,
            dumps(self.tags),
            int(self.is_active),
            self.max_chain_depth,
            int(self.allow_cycles),
            self.fire_count,
            None if self.last_fired_at is None else db_time(self.last_fired_at),
            db_time(self.created_at),
            db_time(self.updated_at),
        )


def _record(row: sqlite3.Row) -> EventTriggerRecord:
    created = parse_db_time(row["created_at"])
    updated = parse_db_time(row["updated_at"])
    assert created is not None and updated is not None
    return EventTriggerRecord(
        id=row["id"],
        pipeline_id=row["pipeline_id"],
        name=row["name"],
        description=row["description"],
        event_type=row["event_type"],
        filter=json.loads(row["filter"]),
        params=json.loads(row["params"]),
        priority=row["priority"],
        tags=json.loads(row["tags"]),
        is_active=bool(row["is_active"]),
        max_chain_depth=int(row["max_chain_depth"]),
        allow_cycles=bool(row["allow_cycles"]),
        fire_count=int(row["fire_count"]),
        last_fired_at=parse_db_time(row["last_fired_at"]),
        created_at=created,
        updated_at=updated,
    )


@attrs.frozen(kw_only=True)
class Lineage:
    """Where an execution sits in a trigger chain (depth 0: not started by an event trigger)."""

    root_execution_id: str
    depth: int
    pipelines: list[str]


class EventTriggerStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def insert(self, record: EventTriggerRecord) -> None:
        marks = ", ".join("?" * len(record.values()))
        await self.store.run_transaction(
            lambda conn: conn.execute(
                f"INSERT INTO event_triggers ({_COLUMNS}) VALUES ({marks})", record.values()
            )
        )

    async def replace(self, record: EventTriggerRecord) -> bool:
        columns = [c.strip() for c in _COLUMNS.split(",")]
        assignments = ", ".join(f"{c} = ?" for c in columns[1:])
        values = record.values()
        return await self.store.run_transaction(
            lambda conn: (
                conn.execute(
                    f"UPDATE event_triggers SET {assignments} WHERE id = ?", (*values[1:], record.id)
                ).rowcount
                == 1
            )
        )

    async def get(self, trigger_id: str) -> EventTriggerRecord | None:
        rows = await self.store.fetchall(f"SELECT {_COLUMNS} FROM event_triggers WHERE id = ?", (trigger_id,))
        return _record(rows[0]) if rows else None

    async def list(
        self, *, pipeline_id: str | None, event_type: str | None, limit: int, offset: int
    ) -> tuple[builtins.list[EventTriggerRecord], int]:
        rows, total = await newest_first_page(
            self.store,
            "event_triggers",
            _COLUMNS,
            {"pipeline_id": pipeline_id, "event_type": event_type},
            limit=limit,
            offset=offset,
        )
        return [_record(row) for row in rows], total

    async def active_for(self, event_type: str) -> builtins.list[EventTriggerRecord]:
        rows = await self.store.fetchall(
            f"SELECT {_COLUMNS} FROM event_triggers WHERE event_type = ? AND is_active = 1 ORDER BY seq",
            (event_type,),
        )
        return [_record(row) for row in rows]

    async def delete(self, trigger_id: str) -> bool:
        return await self.store.run_transaction(
            lambda conn: conn.execute("DELETE FROM event_triggers WHERE id = ?", (trigger_id,)).rowcount == 1
        )

    async def lineage(self, execution_id: str, pipeline_id: str | None) -> Lineage:
        rows = await self.store.fetchall(
            "SELECT root_execution_id, depth, pipelines FROM trigger_lineage WHERE execution_id = ?",
            (execution_id,),
        )
        if not rows:
            return Lineage(root_execution_id=execution_id, depth=0, pipelines=[pipeline_id or ""])
        return Lineage(
            root_execution_id=rows[0][0], depth=int(rows[0][1]), pipelines=list(json.loads(rows[0][2]))
        )

    async def firings(self, trigger_id: str) -> builtins.list[dict[str, Any]]:
        rows = await self.store.fetchall(
            "SELECT source_execution_id, status, reason, execution_id, recorded_at FROM event_firings "
            "WHERE trigger_id = ? ORDER BY recorded_at DESC",
            (trigger_id,),
        )
        return [dict(row) for row in rows]

    async def claim(
        self,
        trigger_id: str,
        source_execution_id: str,
        *,
        launch: Launch | None,
        lineage: Lineage | None,
        status: str,
        reason: str | None,
        now: datetime,
    ) -> bool:
        """Record this trigger's firing for the source execution (and store `launch`) once.

        Returns True when this call recorded it (and stored the execution, if any).
        """

        def write(conn: sqlite3.Connection) -> bool:
            inserted = conn.execute(
                "INSERT OR IGNORE INTO event_firings (trigger_id, source_execution_id, status, reason, "
                "execution_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    trigger_id,
                    source_execution_id,
                    status,
                    reason,
                    None if launch is None else launch.execution.id,
                    db_time(now),
                ),
            ).rowcount
            if not inserted or launch is None:
                return bool(inserted)
            insert_execution(conn, launch)
            assert lineage is not None
            conn.execute(
                "INSERT INTO trigger_lineage (execution_id, root_execution_id, depth, pipelines) "
                "VALUES (?, ?, ?, ?)",
                (launch.execution.id, lineage.root_execution_id, lineage.depth, dumps(lineage.pipelines)),
            )
            conn.execute(
                "UPDATE event_triggers SET fire_count = fire_count + 1, last_fired_at = ? WHERE id = ?",
                (db_time(now), trigger_id),
            )
            return True

        return await self.store.run_transaction(write)
