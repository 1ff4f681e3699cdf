"""Migrations of the ``triggers`` store component (registered with `Store.register_migrations`).

Times are `db_time` text (fixed width, so string order is time order). The uniqueness that makes
firing exactly-once lives here: one `schedule_runs` row per (schedule, run time, kind), one
`webhook_messages` row per (webhook, webhook-id), one `event_firings` row per (trigger, source
execution); the execution a firing starts is inserted in the same transaction as that row.
"""

from __future__ import annotations

from budai_server.store.schema import Migration

__all__ = ["TRIGGERS_COMPONENT", "TRIGGERS_MIGRATIONS"]

TRIGGERS_COMPONENT = "triggers"

TRIGGERS_MIGRATIONS: list[Migration] = [
    [
        """
        CREATE TABLE schedules (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            pipeline_id TEXT NOT NULL,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            type TEXT NOT NULL,
            expression TEXT NOT NULL,
            timezone TEXT NOT NULL,
            run_at TEXT,
            params TEXT NOT NULL,
            priority TEXT NOT NULL,
            tags TEXT NOT NULL,
            callbacks TEXT NOT NULL,
            timeout_seconds REAL,
            status TEXT NOT NULL,
            catchup TEXT NOT NULL,
            catchup_window_seconds REAL NOT NULL,
            overlap TEXT NOT NULL,
            anchor_at TEXT NOT NULL,
            cursor_at TEXT NOT NULL,
            next_run_at TEXT,
            last_run_at TEXT,
            last_execution_id TEXT,
            run_count INTEGER NOT NULL DEFAULT 0,
            skipped_count INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX schedules_due ON schedules (status, next_run_at)",
        "CREATE INDEX schedules_pipeline ON schedules (pipeline_id, seq)",
        """
        CREATE TABLE schedule_runs (
            schedule_id TEXT NOT NULL,
            run_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            execution_id TEXT,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (schedule_id, run_at, kind)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE webhook_triggers (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            pipeline_id TEXT NOT NULL,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            secret TEXT NOT NULL,
            headers TEXT NOT NULL,
            params TEXT NOT NULL,
            priority TEXT NOT NULL,
            tags TEXT NOT NULL,
            is_active INTEGER NOT NULL,
            last_triggered_at TEXT,
            trigger_count INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE webhook_messages (
            webhook_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            execution_id TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (webhook_id, message_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE event_triggers (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            pipeline_id TEXT NOT NULL,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            event_type TEXT NOT NULL,
            filter TEXT NOT NULL,
            params TEXT NOT NULL,
            priority TEXT NOT NULL,
            tags TEXT NOT NULL,
            is_active INTEGER NOT NULL,
            max_chain_depth INTEGER NOT NULL,
            allow_cycles INTEGER NOT NULL DEFAULT 0,
            fire_count INTEGER NOT NULL DEFAULT 0,
            last_fired_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX event_triggers_type ON event_triggers (event_type, is_active)",
        """
        CREATE TABLE event_firings (
            trigger_id TEXT NOT NULL,
            source_execution_id TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            execution_id TEXT,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (trigger_id, source_execution_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE trigger_lineage (
            execution_id TEXT PRIMARY KEY,
            root_execution_id TEXT NOT NULL,
            depth INTEGER NOT NULL,
            pipelines TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    ],
]
