"""Batch reads and writes of executions on the server store's connection.

`insert_batch` stores every new execution of a batch request, their tags and their per-item
idempotency keys in ONE transaction, deciding inside it (under the store's write lock) which items
replay an execution made earlier with the same key. `get_executions` reads many executions by id
in a few queries. Both reuse `store_rows` (column lists, row mapping), so the tables keep one
definition, and write through `Store.run_transaction`, one job on the store's worker thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from budai_async.models import Execution
from budai_server.store.database import Store
from budai_server.store.rows import (
    EXECUTION_COLUMNS,
    EXECUTION_INSERT,
    db_time,
    dumps,
    execution_from_row,
    execution_values,
)

__all__ = ["BatchRow", "Conflict", "Outcome", "get_executions", "get_statuses", "insert_batch"]

_SQL_IN_CHUNK = 500
_IDEMPOTENCY_INSERT = (  # `store_rows.insert_idempotency`'s statement, for many rows in one call
    "INSERT OR IGNORE INTO idempotency_keys (key, route, fingerprint, status, body, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


@attrs.frozen(kw_only=True)
class BatchRow:
    """A candidate execution for one item, with its idempotency key and content fingerprint."""

    index: int
    execution: Execution
    key: str | None
    fingerprint: str
    replay_body: str


@attrs.frozen(kw_only=True)
class Conflict:
    """The item's key was used before for different content; nothing was stored for it."""

    index: int
    key: str


@attrs.frozen(kw_only=True)
class Outcome:
    """What happened to an item: `created` (new execution) or replayed (an earlier one)."""

    index: int
    execution: Execution
    created: bool


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i : i + _SQL_IN_CHUNK] for i in range(0, len(values), _SQL_IN_CHUNK)]


async def get_executions(store: Store, ids: Sequence[str]) -> dict[str, Execution]:
    """The executions with these ids (unknown ids are absent from the answer)."""
    found: dict[str, Execution] = {}
    for part in _chunks(list(dict.fromkeys(ids))):
        marks = ",".join("?" * len(part))
        sql = f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE id IN ({marks})"
        for row in await store.fetchall(sql, part):
            execution = execution_from_row(row)
            found[execution.id] = execution
    return found


async def get_statuses(store: Store, ids: Sequence[str]) -> dict[str, str]:
    """id -> status for the known ones among `ids` (a narrow read, no row parsing)."""
    found: dict[str, str] = {}
    for part in _chunks(list(dict.fromkeys(ids))):
        marks = ",".join("?" * len(part))
        for row in await store.fetchall(f"SELECT id, status FROM executions WHERE id IN ({marks})", part):
            found[str(row[0])] = str(row[1])
    return found


async def insert_batch(
    store: Store, rows: Sequence[BatchRow], definition: Mapping[str, Any], route: str
) -> list[Outcome | Conflict]:
    """Store the new executions among `rows` atomically; answer per row in the same order.

    A row whose key already exists on `route` with the same fingerprint replays that execution (no
    new row); with another fingerprint it is a `Conflict`. Two rows of one batch sharing a key
    behave the same way against each other. Replayed executions come back in their current state.
    """
    await store.flush()  # replayed executions are read in their latest state
    definition_json = dumps(definition)
    now = datetime.now(UTC)
    return await store.run_transaction(lambda conn: _write(conn, rows, definition_json, route, now))


def _write(
    conn: sqlite3.Connection, rows: Sequence[BatchRow], definition_json: str, route: str, now: datetime
) -> list[Outcome | Conflict]:
    """The transaction body (runs on the store's worker thread, between BEGIN IMMEDIATE and COMMIT)."""
    existing = _existing_keys(conn, [row.key for row in rows if row.key is not None], route)
    decided: list[tuple[BatchRow, str | None, bool]] = []  # row, execution id (None: conflict), created
    first_of_key: dict[str, BatchRow] = {}
    new_rows: list[BatchRow] = []
    for row in rows:
        if row.key is None:
            new_rows.append(row)
            decided.append((row, row.execution.id, True))
        elif row.key in existing:
            fingerprint, execution_id = existing[row.key]
            decided.append((row, execution_id if fingerprint == row.fingerprint else None, False))
        elif row.key in first_of_key:
            first = first_of_key[row.key]
            decided.append((row, first.execution.id if first.fingerprint == row.fingerprint else None, False))
        else:
            first_of_key[row.key] = row
            new_rows.append(row)
            decided.append((row, row.execution.id, True))
    if new_rows:
        conn.executemany(
            EXECUTION_INSERT, [(*execution_values(row.execution), definition_json) for row in new_rows]
        )
        tags = [(tag, row.execution.id) for row in new_rows for tag in row.execution.tags]
        conn.executemany(
            "INSERT OR IGNORE INTO execution_tags (tag, execution_seq) "
            "SELECT ?, seq FROM executions WHERE id = ?",
            tags,
        )
        created_at = db_time(now)
        conn.executemany(
            _IDEMPOTENCY_INSERT,
            [
                (row.key, route, row.fingerprint, 201, row.replay_body, created_at)
                for row in new_rows
                if row.key is not None
            ],
        )
    known = {row.execution.id: row.execution for row in new_rows}
    replay_ids = [
        eid for _row, eid, created in decided if eid is not None and not created and eid not in known
    ]
    known.update(_read(conn, replay_ids))
    outcomes: list[Outcome | Conflict] = []
    for row, execution_id, created in decided:
        execution = known.get(execution_id) if execution_id is not None else None
        if execution is None:
            outcomes.append(Conflict(index=row.index, key=row.key or ""))
        else:
            outcomes.append(Outcome(index=row.index, execution=execution, created=created))
    return outcomes


def _existing_keys(
    conn: sqlite3.Connection, keys: list[str], route: str
) -> dict[str, tuple[str, str | None]]:
    """key -> (fingerprint, execution id from the stored answer) for keys already used on `route`."""
    found: dict[str, tuple[str, str | None]] = {}
    for part in _chunks(list(dict.fromkeys(keys))):
        marks = ",".join("?" * len(part))
        cursor = conn.execute(
            f"SELECT key, fingerprint, body FROM idempotency_keys WHERE route = ? AND key IN ({marks})",
            (route, *part),
        )
        for key, fingerprint, body in cursor.fetchall():
            found[str(key)] = (str(fingerprint), _execution_id(body))
    return found


def _execution_id(body: str) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get("id", data.get("execution_id")) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _read(conn: sqlite3.Connection, ids: list[str]) -> dict[str, Execution]:
    found: dict[str, Execution] = {}
    for part in _chunks(list(dict.fromkeys(ids))):
        marks = ",".join("?" * len(part))
        cursor = conn.execute(
            f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE id IN ({marks})", tuple(part)
        )
        for row in cursor.fetchall():
            execution = execution_from_row(row)
            found[execution.id] = execution
    return found
