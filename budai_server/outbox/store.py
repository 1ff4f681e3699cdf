"""SQLite persistence of the callback outbox, on the server store's shared aiosqlite connection.

Three tables, created IF NOT EXISTS at start (like `logstore`): `callback_deliveries` (one row per
event to send: the exact signed body, where it stands, when it is next due), `callback_attempts`
(one row per HTTP attempt, for the API) and `callback_outbox_meta` (the generated signing secret and
the time the outbox was installed). Every write is one `Store.run_transaction` job, so it never
interleaves with the store's own writes. Times are epoch seconds (REAL), so "due" is a comparison.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from budai_async.models import Execution
from budai_server.outbox.rules import DeliveryStatus
from budai_server.store.rows import EXECUTION_COLUMNS, db_time, execution_from_row

if TYPE_CHECKING:
    from budai_server.store.database import Store

__all__ = ["SECRET_QUERY", "Attempt", "Delivery", "NewDelivery", "OutboxStore"]

#: Reads the generated signing secret (printed at start as the way to get it, instead of the secret).
SECRET_QUERY = "SELECT value FROM callback_outbox_meta WHERE key = 'webhook_secret'"

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS callback_deliveries (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        execution_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        url TEXT NOT NULL,
        body BLOB NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        last_status_code INTEGER,
        last_error TEXT,
        UNIQUE (execution_id, event_type)
    )
    """,
    "CREATE INDEX IF NOT EXISTS callback_deliveries_due ON callback_deliveries (status, next_attempt_at)",
    """
    CREATE TABLE IF NOT EXISTS callback_attempts (
        delivery_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        started_at REAL NOT NULL,
        duration_seconds REAL NOT NULL,
        status_code INTEGER,
        error TEXT,
        outcome TEXT NOT NULL,
        PRIMARY KEY (delivery_id, number)
    ) WITHOUT ROWID
    """,
    "CREATE TABLE IF NOT EXISTS callback_outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

_DELIVERY_COLUMNS = (
    "id, execution_id, event_type, url, body, status, attempts, next_attempt_at, created_at, "
    "updated_at, last_status_code, last_error"
)
_PENDING = DeliveryStatus.PENDING.value


@attrs.frozen(kw_only=True)
class NewDelivery:
    """An event to send, as the terminal listener (or the start-up sweep) enqueues it."""

    id: str
    execution_id: str
    event_type: str
    url: str
    body: bytes
    created_at: float
    next_attempt_at: float


@attrs.frozen(kw_only=True)
class Delivery:
    """One stored delivery; `attempts` counts the attempts made so far."""

    id: str
    execution_id: str
    event_type: str
    url: str
    body: bytes
    status: DeliveryStatus
    attempts: int
    next_attempt_at: float | None
    created_at: float
    updated_at: float
    last_status_code: int | None
    last_error: str | None


@attrs.frozen(kw_only=True)
class Attempt:
    """One HTTP attempt of a delivery: `status_code` None means a timeout or a connection error."""

    delivery_id: str
    number: int
    started_at: float
    duration_seconds: float
    status_code: int | None
    error: str | None
    outcome: str


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        id=str(row[0]),
        execution_id=str(row[1]),
        event_type=str(row[2]),
        url=str(row[3]),
        body=bytes(row[4]),
        status=DeliveryStatus(row[5]),
        attempts=int(row[6]),
        next_attempt_at=None if row[7] is None else float(row[7]),
        created_at=float(row[8]),
        updated_at=float(row[9]),
        last_status_code=None if row[10] is None else int(row[10]),
        last_error=row[11],
    )


def _not_in(ids: Sequence[str]) -> tuple[str, list[str]]:
    """An ``AND id NOT IN (...)`` clause for the deliveries in flight (empty when there are none)."""
    if not ids:
        return "", []
    return f" AND id NOT IN ({','.join('?' * len(ids))})", list(ids)


class OutboxStore:
    """Reads and writes the outbox tables through the server `Store`; owns only those tables."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create_schema(self, now: datetime) -> None:
        """Create the tables if missing and remember when the outbox first ran (safe on every start)."""
        installed = db_time(now)

        def create(conn: sqlite3.Connection) -> None:
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO callback_outbox_meta (key, value) VALUES ('installed_at', ?)",
                (installed,),
            )

        await self._store.run_transaction(create)

    async def load_or_store_secret(self, candidate: str) -> str:
        """The signing secret kept from an earlier start, or `candidate` stored now as that secret."""

        def load(conn: sqlite3.Connection) -> str:
            conn.execute(
                "INSERT OR IGNORE INTO callback_outbox_meta (key, value) VALUES ('webhook_secret', ?)",
                (candidate,),
            )
            row = conn.execute(SECRET_QUERY).fetchone()
            return str(row[0])

        return await self._store.run_transaction(load)

    async def enqueue(self, delivery: NewDelivery) -> bool:
        """Store a new pending delivery; False when this execution's event was already enqueued."""

        def insert(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO callback_deliveries (id, execution_id, event_type, url, body, "
                "status, attempts, next_attempt_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                (
                    delivery.id,
                    delivery.execution_id,
                    delivery.event_type,
                    delivery.url,
                    delivery.body,
                    _PENDING,
                    delivery.next_attempt_at,
                    delivery.created_at,
                    delivery.created_at,
                ),
            )
            return cursor.rowcount == 1

        return await self._store.run_transaction(insert)

    async def executions_missing_delivery(self) -> list[Execution]:
        """Terminal executions that have a callback url for their end but no delivery row.

        Only a crash between committing an execution's final state and enqueueing its callback
        leaves one; executions that ended before the outbox was installed are not swept up.
        """
        rows = await self._store.fetchall(
            f"SELECT {EXECUTION_COLUMNS} FROM executions AS e "
            "WHERE e.status IN ('completed', 'failed', 'cancelled', 'timeout') "
            "AND e.callbacks != '{}' "
            "AND json_extract(e.callbacks, CASE e.status WHEN 'completed' THEN '$.on_complete' "
            "ELSE '$.on_failure' END) IS NOT NULL "
            "AND e.completed_at >= (SELECT value FROM callback_outbox_meta WHERE key = 'installed_at') "
            "AND NOT EXISTS (SELECT 1 FROM callback_deliveries AS d WHERE d.execution_id = e.id) "
            "ORDER BY e.seq"
        )
        return [execution_from_row(row) for row in rows]

    async def due(self, now: float, limit: int, in_flight: Sequence[str] = ()) -> list[Delivery]:
        """Pending deliveries due at `now`, oldest due first, skipping those being sent right now."""
        clause, params = _not_in(in_flight)
        rows = await self._store.db.execute_fetchall(
            f"SELECT {_DELIVERY_COLUMNS} FROM callback_deliveries "
            f"WHERE status = ? AND next_attempt_at <= ?{clause} ORDER BY next_attempt_at, seq LIMIT ?",
            [_PENDING, now, *params, limit],
        )
        return [_delivery(row) for row in rows]

    async def next_due_at(self, in_flight: Sequence[str] = ()) -> float | None:
        """When the earliest pending delivery not in flight is due (None: nothing is pending)."""
        clause, params = _not_in(in_flight)
        rows = list(
            await self._store.db.execute_fetchall(
                f"SELECT MIN(next_attempt_at) FROM callback_deliveries WHERE status = ?{clause}",
                [_PENDING, *params],
            )
        )
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    async def record_attempt(
        self, attempt: Attempt, status: DeliveryStatus, next_attempt_at: float | None, now: float
    ) -> None:
        """Store an attempt and its delivery's new state in one transaction."""

        def write(conn: sqlite3.Connection) -> None:
            # A delivery deleted with its execution while this attempt was in flight stays deleted.
            conn.execute(
                "INSERT OR REPLACE INTO callback_attempts (delivery_id, number, started_at, "
                "duration_seconds, status_code, error, outcome) SELECT ?, ?, ?, ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM callback_deliveries WHERE id = ?)",
                (
                    attempt.delivery_id,
                    attempt.number,
                    attempt.started_at,
                    attempt.duration_seconds,
                    attempt.status_code,
                    attempt.error,
                    attempt.outcome,
                    attempt.delivery_id,
                ),
            )
            conn.execute(
                "UPDATE callback_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, "
                "updated_at = ?, last_status_code = ?, last_error = ? WHERE id = ?",
                (
                    status.value,
                    attempt.number,
                    next_attempt_at,
                    now,
                    attempt.status_code,
                    attempt.error,
                    attempt.delivery_id,
                ),
            )

        await self._store.run_transaction(write)

    async def for_execution(self, execution_id: str) -> list[tuple[Delivery, list[Attempt]]]:
        """An execution's deliveries (oldest first), each with its attempts in order."""
        rows = await self._store.db.execute_fetchall(
            f"SELECT {_DELIVERY_COLUMNS} FROM callback_deliveries WHERE execution_id = ? ORDER BY seq",
            (execution_id,),
        )
        deliveries = [_delivery(row) for row in rows]
        if not deliveries:
            return []
        attempt_rows = await self._store.db.execute_fetchall(
            "SELECT a.delivery_id, a.number, a.started_at, a.duration_seconds, a.status_code, a.error, "
            "a.outcome FROM callback_attempts AS a JOIN callback_deliveries AS d ON d.id = a.delivery_id "
            "WHERE d.execution_id = ? ORDER BY a.delivery_id, a.number",
            (execution_id,),
        )
        attempts: dict[str, list[Attempt]] = {delivery.id: [] for delivery in deliveries}
        for row in attempt_rows:
            attempts[str(row[0])].append(
                Attempt(
                    delivery_id=str(row[0]),
                    number=int(row[1]),
                    started_at=float(row[2]),
                    duration_seconds=float(row[3]),
                    status_code=None if row[4] is None else int(row[4]),
                    error=row[5],
                    outcome=str(row[6]),
                )
            )
        return [(delivery, attempts[delivery.id]) for delivery in deliveries]

    async def count_by_status(self) -> dict[str, int]:
        """Deliveries per status (seeds the pending gauge at start)."""
        rows = await self._store.db.execute_fetchall(
            "SELECT status, COUNT(*) FROM callback_deliveries GROUP BY status"
        )
        return {str(row[0]): int(row[1]) for row in rows}
