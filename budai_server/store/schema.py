"""The SQLite schema of the server store as an ordered list of migrations per component.

A migration is a list of SQL statements; `schema_versions` records how many of a component's
migrations have run, so a database created by an older build is brought up to date at start and
a newer one is refused instead of being misread. Other server parts (logs, outbox) register their
own component's migrations with `Store.register_migrations` and share the one connection.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CORE_COMPONENT", "CORE_MIGRATIONS", "Migration"]

Migration = Sequence[str]

CORE_COMPONENT = "core"

CORE_MIGRATIONS: list[Migration] = [
    # 1: pipelines, executions (steps as a JSON column), tags index, idempotency keys, inventory.
    [
        """
        CREATE TABLE pipelines (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            description TEXT,
            definition TEXT NOT NULL,
            tags TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL DEFAULT 'active',
            version INTEGER NOT NULL DEFAULT 1,
            step_count INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX pipelines_name ON pipelines (name)",
        """
        CREATE TABLE executions (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            pipeline_id TEXT,
            status TEXT NOT NULL,
            priority TEXT NOT NULL,
            params TEXT NOT NULL,
            tags TEXT NOT NULL,
            outputs TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            steps TEXT NOT NULL DEFAULT '{}',
            definition TEXT NOT NULL,
            callbacks TEXT NOT NULL DEFAULT '{}',
            timeout_seconds REAL,
            retry_of TEXT,
            progress REAL NOT NULL DEFAULT 0,
            completed_steps INTEGER NOT NULL DEFAULT 0,
            total_steps INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            started_at TEXT,
            completed_at TEXT,
            duration_seconds REAL,
            cpu_seconds REAL,
            peak_memory_mb REAL
        )
        """,
        "CREATE INDEX executions_created ON executions (created_at)",
        "CREATE INDEX executions_pipeline ON executions (pipeline_id, created_at)",
        "CREATE INDEX executions_status ON executions (status, created_at)",
        """
        CREATE TABLE execution_tags (
            tag TEXT NOT NULL,
            execution_seq INTEGER NOT NULL,
            PRIMARY KEY (tag, execution_seq)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE idempotency_keys (
            key TEXT NOT NULL,
            route TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            status INTEGER NOT NULL,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (key, route)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX idempotency_created ON idempotency_keys (created_at)",
        """
        CREATE TABLE inventory (
            seq INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            data TEXT NOT NULL,
            UNIQUE (kind, id)
        )
        """,
    ],
    # 2: the gateway's fields (docs/compatibility.md): pipeline tags become a string map (a stored
    # list maps each tag to ""), pipeline icon and is_active, and the execution request fields
    # the gateway and the official SDK send (context, initiator, callback_topics ...).
    [
        "UPDATE pipelines SET tags = COALESCE((SELECT json_group_object(value, '') "
        "FROM json_each(pipelines.tags)), '{}') WHERE json_type(tags) = 'array'",
        "ALTER TABLE pipelines ADD COLUMN icon TEXT",
        "ALTER TABLE pipelines ADD COLUMN is_active INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE executions ADD COLUMN context TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE executions ADD COLUMN initiator TEXT",
        "ALTER TABLE executions ADD COLUMN user_id TEXT",
        "ALTER TABLE executions ADD COLUMN callback_topics TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE executions ADD COLUMN subscriber_ids TEXT",
        "ALTER TABLE executions ADD COLUMN payload_type TEXT",
        "ALTER TABLE executions ADD COLUMN notification_workflow_id TEXT",
    ],
]
