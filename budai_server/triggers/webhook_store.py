"""Inbound webhook triggers: their rows, and the exactly-once claim of one signed message.

The secret must be kept (an HMAC is checked with the key itself); the API shows it only on create
and rotate, and otherwise answers a short SHA-256 fingerprint (`secret_hash`). Each accepted
message is remembered by its ``webhook-id``: a redelivery of the same id answers the execution the
first delivery started and starts nothing (Standard Webhooks' idempotency rule).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import sqlite3
from datetime import datetime
from typing import Any

import attrs

from budai_server.store.database import Store
from budai_server.store.rows import db_time, dumps, parse_db_time
from budai_server.triggers.launch import Launch, insert_execution
from budai_server.triggers.paging import newest_first_page

__all__ = ["Claim", "WebhookRecord", "WebhookStore", "secret_hash"]

_COLUMNS = (
    "id, pipeline_id, name, description, secret, headers, params, priority, tags, is_active, "
    "last_triggered_at, trigger_count, created_at, updated_at"
)


def secret_hash(secret: str) -> str:
    """A fingerprint of a secret that is safe to show (first 16 hex digits of its SHA-256)."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:16]


@attrs.frozen(kw_only=True)
class WebhookRecord:
    id: str
    pipeline_id: str
    name: str
    description: str = ""
    secret: str = attrs.field(repr=False)
    headers: dict[str, str] = attrs.field(factory=dict)
    params: dict[str, Any] = attrs.field(factory=dict)
    priority: str = "normal"
    tags: list[str] = attrs.field(factory=list)
    is_active: bool = True
    last_triggered_at: datetime | None = None
    trigger_count: int = 0
    created_at: datetime
    updated_at: datetime


def _record(row: sqlite3.Row) -> WebhookRecord:
    created = parse_db_time(row["created_at"])
    updated = parse_db_time(row["updated_at"])
    assert created is not None and updated is not None
    return WebhookRecord(
        id=row["id"],
        pipeline_id=row["pipeline_id"],
        name=row["name"],
        description=row["description"],
        secret=row["secret"],
        headers=json.loads(row["headers"]),
        params=json.loads(row["params"]),
        priority=row["priority"],
        tags=json.loads(row["tags"]),
        is_active=bool(row["is_active"]),
        last_triggered_at=parse_db_time(row["last_triggered_at"]),
        trigger_count=int(row["trigger_count"]),
        created_at=created,
        updated_at=updated,
    )


@attrs.frozen(kw_only=True)
class Claim:
    """The execution a message started, and whether this delivery started it (False: a replay)."""

    execution_id: str
    created: bool
    received_at: datetime


class WebhookStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def insert(self, record: WebhookRecord) -> None:
        values = (
            record.id,
            record.pipeline_id,
            record.name,
            record.description,
            record.secret,
            dumps(record.headers),
            dumps(record.params),
            record.priority,
            dumps(record.tags),
            int(record.is_active),
            None,
            0,
            db_time(record.created_at),
            db_time(record.updated_at),
        )
        marks = ", ".join("?" * len(values))
        await self.store.run_transaction(
            lambda conn: conn.execute(f"INSERT INTO webhook_triggers ({_COLUMNS}) VALUES ({marks})", values)
        )

    async def get(self, webhook_id: str) -> WebhookRecord | None:
        rows = await self.store.fetchall(
            f"SELECT {_COLUMNS} FROM webhook_triggers WHERE id = ?", (webhook_id,)
        )
        return _record(rows[0]) if rows else None

    async def list(
        self, *, pipeline_id: str | None, limit: int, offset: int
    ) -> tuple[builtins.list[WebhookRecord], int]:
        rows, total = await newest_first_page(
            self.store, "webhook_triggers", _COLUMNS, {"pipeline_id": pipeline_id}, limit=limit, offset=offset
        )
        return [_record(row) for row in rows], total

    async def delete(self, webhook_id: str) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM webhook_messages WHERE webhook_id = ?", (webhook_id,))
            return conn.execute("DELETE FROM webhook_triggers WHERE id = ?", (webhook_id,)).rowcount == 1

        return await self.store.run_transaction(write)

    async def set_secret(self, webhook_id: str, secret: str, now: datetime) -> bool:
        """Replace the secret (the old one stops verifying at once)."""
        return await self.store.run_transaction(
            lambda conn: (
                conn.execute(
                    "UPDATE webhook_triggers SET secret = ?, updated_at = ? WHERE id = ?",
                    (secret, db_time(now), webhook_id),
                ).rowcount
                == 1
            )
        )

    async def claim(self, webhook_id: str, message_id: str, launch: Launch, now: datetime) -> Claim:
        """Store `launch` for this message unless the message was seen before (then answer that one)."""

        def write(conn: sqlite3.Connection) -> Claim:
            row = conn.execute(
                "SELECT execution_id, received_at FROM webhook_messages "
                "WHERE webhook_id = ? AND message_id = ?",
                (webhook_id, message_id),
            ).fetchone()
            if row is not None:
                received = parse_db_time(row[1])
                assert received is not None
                return Claim(execution_id=row[0], created=False, received_at=received)
            conn.execute(
                "INSERT INTO webhook_messages (webhook_id, message_id, execution_id, received_at) "
                "VALUES (?, ?, ?, ?)",
                (webhook_id, message_id, launch.execution.id, db_time(now)),
            )
            insert_execution(conn, launch)
            conn.execute(
                "UPDATE webhook_triggers SET trigger_count = trigger_count + 1, last_triggered_at = ? "
                "WHERE id = ?",
                (db_time(now), webhook_id),
            )
            return Claim(execution_id=launch.execution.id, created=True, received_at=now)

        return await self.store.run_transaction(write)

    async def purge_messages(self, older_than: datetime) -> int:
        """Forget message ids received before `older_than` (older messages fail the timestamp check)."""
        cutoff = db_time(older_than)
        return await self.store.run_transaction(
            lambda conn: (
                conn.execute("DELETE FROM webhook_messages WHERE received_at < ?", (cutoff,)).rowcount
            )
        )
