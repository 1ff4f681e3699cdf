"""SQLite persistence of pipelines, executions, idempotency keys and the simulated inventory.

The only aiosqlite user for those tables: one connection in WAL mode with ``synchronous=NORMAL``,
the schema migrated at `open`. Writes that must be acknowledged (a new pipeline or execution with
its idempotency key, a final execution state) commit before the call returns. Execution progress
(step states) is coalesced: `buffer_execution` keeps the latest state per execution and a
background flusher writes all of them in one transaction a few milliseconds later, so a busy
engine does one commit per batch instead of one per step. Every read flushes first, so callers
always read their own writes. A crash can lose at most the last few milliseconds of step progress,
which restart recovery re-runs.

Writing from other modules: call `Store.run_transaction(fn)` with a plain function
``fn(conn: sqlite3.Connection) -> T``; it runs as ONE job on aiosqlite's worker thread between
``BEGIN IMMEDIATE`` and ``COMMIT``, so no other coroutine's statements can interleave with it
(there is no async transaction context spanning awaits). Column lists and row conversions live in
`budai_server.store.rows`; extra tables are added with `Store.register_migrations`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite
import attrs

from budai_async.models import Execution, Pipeline
from budai_server.listing import (
    Cursor,
    ExecutionQuery,
    encode_cursor,
    execution_where,
    keyset_clause,
    order_clause,
    sort_value,
)
from budai_server.store.rows import (
    EXECUTION_COLUMNS,
    EXECUTION_INSERT,
    PIPELINE_COLUMNS,
    IdempotencyRecord,
    db_time,
    dumps,
    execution_from_row,
    execution_update_values,
    execution_values,
    insert_idempotency,
    parse_db_time,
    pipeline_from_row,
    pipeline_values,
)
from budai_server.store.schema import CORE_COMPONENT, CORE_MIGRATIONS, Migration

__all__ = [
    "EXECUTION_COLUMNS",
    "ExecutionPage",
    "IdempotencyRecord",
    "SchemaTooNewError",
    "Store",
    "db_time",
    "dumps",
    "execution_from_row",
    "execution_values",
    "insert_idempotency",
    "parse_db_time",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer server build than this one."""


@attrs.frozen(kw_only=True)
class ExecutionPage:
    items: list[Execution]
    total: int
    next_cursor: str | None


class Store:
    """Async facade over one SQLite connection; open with `open()` or `async with`."""

    def __init__(self, path: Path | str, *, flush_interval: float = 0.005) -> None:
        self.path = Path(path)
        self.flush_interval = flush_interval
        self._db: aiosqlite.Connection | None = None
        self._migrations: dict[str, list[Migration]] = {CORE_COMPONENT: list(CORE_MIGRATIONS)}
        self._pending: dict[str, Execution] = {}
        self._dirty = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        # Resolved when the batch holding the states saved so far has committed.
        self._committed: asyncio.Future[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def register_migrations(self, component: str, migrations: Sequence[Migration]) -> None:
        """Add another component's ordered migrations; call before `open`."""
        if self._db is not None:
            raise RuntimeError("register migrations before the store is opened")
        self._migrations[component] = list(migrations)

    async def open(self) -> None:
        """Connect, set WAL/NORMAL, run pending migrations and start the write flusher."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path)
        db.row_factory = sqlite3.Row
        self._db = db
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA busy_timeout=5000")
            await self.run_transaction(self._migrate)
        except BaseException:
            await db.close()
            self._db = None
            raise
        self._flusher = asyncio.create_task(self._flush_loop(), name="budai-store-flusher")

    async def close(self) -> None:
        """Stop the flusher, write what is buffered, close the connection."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        if self._db is not None:
            try:
                await self.flush()
            finally:
                await self._db.close()
                self._db = None

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def db(self) -> aiosqlite.Connection:
        """The shared connection (for components that keep their own tables in this database)."""
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def run_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` on the connection's thread inside one transaction, committed at return.

        The whole transaction is a single job on aiosqlite's worker thread, so nothing another
        task sends to the shared connection can land between its statements. If another user of
        the connection left a transaction open (a pending implicit one), `fn` joins and commits it.
        """
        db = self.db
        # aiosqlite's own primitive for "run this callable on the worker thread": one queued job.
        execute = cast(Callable[..., Awaitable[T]], db._execute)
        return await execute(_in_transaction, fn, db._conn)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Run a read after flushing buffered writes (read-your-writes)."""
        await self.flush()
        rows = await self.db.execute_fetchall(sql, tuple(params))
        return list(rows)

    async def ping(self) -> None:
        """Raise when the database cannot answer a trivial query (readiness check)."""
        await self.db.execute_fetchall("SELECT 1")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions "
            "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        for component, migrations in self._migrations.items():
            row = conn.execute(
                "SELECT version FROM schema_versions WHERE component = ?", (component,)
            ).fetchone()
            current = int(row[0]) if row is not None else 0
            if current > len(migrations):
                raise SchemaTooNewError(
                    f"database {self.path} has {component} schema version {current}; "
                    f"this server knows up to {len(migrations)}"
                )
            for version in range(current + 1, len(migrations) + 1):
                for statement in migrations[version - 1]:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                    "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                    (component, version),
                )
                logger.info("migrated %s schema to version %d", component, version)

    # -- pipelines -------------------------------------------------------------------------------

    async def insert_pipeline(self, pipeline: Pipeline, idempotency: IdempotencyRecord | None = None) -> None:
        """Store a new pipeline (and the idempotency key that created it) in one transaction."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO pipelines ({PIPELINE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                pipeline_values(pipeline),
            )
            insert_idempotency(conn, idempotency)

        await self.run_transaction(write)

    async def get_pipeline(self, pipeline_id: str) -> Pipeline | None:
        rows = await self.fetchall(f"SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE id = ?", (pipeline_id,))
        return pipeline_from_row(rows[0]) if rows else None

    async def list_pipelines(
        self, *, name_contains: str | None, limit: int, offset: int
    ) -> tuple[list[Pipeline], int]:
        """Newest first; `name_contains` is a case-insensitive substring (no wildcards)."""
        where, params = "1", []
        if name_contains:
            escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where, params = "name LIKE ? ESCAPE '\\'", [f"%{escaped}%"]
        total_rows = await self.fetchall(f"SELECT COUNT(*) FROM pipelines WHERE {where}", params)
        rows = await self.fetchall(
            f"SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [pipeline_from_row(row) for row in rows], int(total_rows[0][0])

    async def update_pipeline(self, pipeline: Pipeline, *, expected_version: int) -> bool:
        """Overwrite a pipeline if it is still at `expected_version`; False when it changed or vanished."""

        def write(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE pipelines SET name = ?, description = ?, definition = ?, tags = ?, status = ?, "
                "version = ?, step_count = ?, updated_at = ?, icon = ?, is_active = ? "
                "WHERE id = ? AND version = ?",
                (
                    pipeline.name,
                    pipeline.description,
                    dumps(pipeline.definition),
                    dumps(pipeline.tags),
                    pipeline.status,
                    pipeline.version,
                    pipeline.step_count,
                    db_time(pipeline.updated_at or datetime.now(UTC)),
                    pipeline.icon,
                    int(pipeline.is_active),
                    pipeline.id,
                    expected_version,
                ),
            )
            return cursor.rowcount == 1

        return await self.run_transaction(write)

    async def delete_pipeline(self, pipeline_id: str) -> bool:
        """Delete a pipeline; its executions stay (their `pipeline_id` keeps the old id)."""
        return await self.run_transaction(
            lambda conn: conn.execute("DELETE FROM pipelines WHERE id = ?", (pipeline_id,)).rowcount == 1
        )

    # -- executions ------------------------------------------------------------------------------

    async def insert_execution(
        self,
        execution: Execution,
        definition: Mapping[str, Any],
        idempotency: IdempotencyRecord | None = None,
    ) -> None:
        """Store a new execution with the snapshot of the definition it runs, committed at return."""
        values = (*execution_values(execution), dumps(definition))

        def write(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                EXECUTION_INSERT,
                values,
            )
            if execution.tags:
                conn.executemany(
                    "INSERT OR IGNORE INTO execution_tags (tag, execution_seq) VALUES (?, ?)",
                    [(tag, cursor.lastrowid) for tag in execution.tags],
                )
            insert_idempotency(conn, idempotency)

        await self.run_transaction(write)

    def buffer_execution(self, execution: Execution) -> None:
        """Queue the latest mutable state of an execution for the next batched write."""
        self._pending[execution.id] = execution
        self._dirty.set()

    async def save_execution(self, execution: Execution) -> None:
        """Write an execution's state durably; returns once the batch holding it has committed.

        Saves made within one flush interval share a transaction (group commit).
        """
        self._pending[execution.id] = execution
        if self._committed is None:
            self._committed = asyncio.get_running_loop().create_future()
        committed = self._committed
        if self._flusher is None or not self.flush_interval:
            await self.flush()
        else:
            self._dirty.set()
        await asyncio.shield(committed)

    async def flush(self) -> None:
        """Write all buffered execution states in one transaction now."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        committed, self._committed = self._committed, None
        self._dirty.clear()
        rows = [execution_update_values(execution) for execution in batch.values()]

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE executions SET status = ?, outputs = ?, error = ?, steps = ?, progress = ?, "
                "completed_steps = ?, total_steps = ?, started_at = ?, completed_at = ?, "
                "duration_seconds = ?, cpu_seconds = ?, peak_memory_mb = ? WHERE id = ?",
                rows,
            )

        try:
            await self.run_transaction(write)
        except BaseException:
            # Put the batch back (newer states win) so the next flush writes it.
            for execution_id, execution in batch.items():
                self._pending.setdefault(execution_id, execution)
            if committed is not None:
                if self._committed is None:
                    self._committed = committed
                else:
                    _chain(self._committed, committed)
            self._dirty.set()
            raise
        if committed is not None and not committed.done():
            committed.set_result(None)

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.flush_interval)
            try:
                await self.flush()
            except sqlite3.Error:
                logger.exception("writing buffered execution states failed; retrying")
                await asyncio.sleep(0.1)

    async def get_execution(self, execution_id: str) -> Execution | None:
        rows = await self.fetchall(
            f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ?", (execution_id,)
        )
        return execution_from_row(rows[0]) if rows else None

    async def get_execution_definition(self, execution_id: str) -> dict[str, Any] | None:
        """The definition snapshot an execution runs (kept even when its pipeline was deleted)."""
        rows = await self.fetchall("SELECT definition FROM executions WHERE id = ?", (execution_id,))
        return dict(json.loads(rows[0][0])) if rows else None

    async def list_executions(self, query: ExecutionQuery) -> ExecutionPage:
        """One page of executions plus the total matching the filters and the next page's cursor."""
        where, params = execution_where(query)
        total_rows = await self.fetchall(f"SELECT COUNT(*) FROM executions WHERE {where}", params)
        page_where, page_params = where, list(params)
        offset = query.offset
        if query.cursor is not None:
            clause, extra = keyset_clause(query.cursor)
            page_where, page_params, offset = f"{where} AND {clause}", [*params, *extra], 0
        rows = await self.fetchall(
            f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE {page_where} "
            f"ORDER BY {order_clause(query.sort_by, query.sort_order)} LIMIT ? OFFSET ?",
            [*page_params, query.limit + 1, offset],
        )
        has_more = len(rows) > query.limit
        rows = rows[: query.limit]
        next_cursor = None
        if has_more and rows:
            last = rows[-1]
            next_cursor = encode_cursor(
                Cursor(
                    sort_by=query.sort_by,
                    sort_order=query.sort_order,
                    value=sort_value(query.sort_by, dict(last)),
                    seq=int(last["seq"]),
                )
            )
        return ExecutionPage(
            items=[execution_from_row(row) for row in rows],
            total=int(total_rows[0][0]),
            next_cursor=next_cursor,
        )

    async def unfinished_executions(self) -> list[tuple[Execution, dict[str, Any]]]:
        """Executions left pending or running (after a crash), oldest first, with their definitions."""
        rows = await self.fetchall(
            f"SELECT {EXECUTION_COLUMNS}, definition FROM executions "
            "WHERE status IN ('pending', 'running') ORDER BY seq"
        )
        return [(execution_from_row(row), dict(json.loads(row["definition"]))) for row in rows]

    async def count_executions_by_status(self) -> dict[str, int]:
        rows = await self.fetchall("SELECT status, COUNT(*) FROM executions GROUP BY status")
        return {str(row[0]): int(row[1]) for row in rows}

    # -- idempotency -----------------------------------------------------------------------------

    async def get_idempotency(self, key: str, route: str) -> IdempotencyRecord | None:
        rows = await self.fetchall(
            "SELECT key, route, fingerprint, status, body, created_at FROM idempotency_keys "
            "WHERE key = ? AND route = ?",
            (key, route),
        )
        if not rows:
            return None
        row = rows[0]
        return IdempotencyRecord(
            key=row["key"],
            route=row["route"],
            fingerprint=row["fingerprint"],
            status=int(row["status"]),
            body=row["body"],
            created_at=parse_db_time(row["created_at"]) or datetime.now(UTC),
        )

    async def save_idempotency(self, record: IdempotencyRecord) -> None:
        """Remember a response for a key (first writer wins)."""
        await self.run_transaction(lambda conn: insert_idempotency(conn, record))

    async def purge_idempotency(self, older_than: datetime) -> int:
        """Forget keys stored before `older_than`; returns how many were removed."""
        cutoff = db_time(older_than)
        return await self.run_transaction(
            lambda conn: conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (cutoff,)).rowcount
        )

    # -- inventory (engine.types.InventoryStore) -------------------------------------------------

    async def inventory_get(self, kind: str, item_id: str) -> dict[str, Any] | None:
        rows = await self.fetchall("SELECT data FROM inventory WHERE kind = ? AND id = ?", (kind, item_id))
        return dict(json.loads(rows[0][0])) if rows else None

    async def inventory_put(self, kind: str, item_id: str, data: dict[str, Any]) -> None:
        text = dumps(data)
        await self.run_transaction(
            lambda conn: conn.execute(
                "INSERT INTO inventory (kind, id, data) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data",
                (kind, item_id, text),
            )
        )

    async def inventory_delete(self, kind: str, item_id: str) -> bool:
        return await self.run_transaction(
            lambda conn: (
                conn.execute("DELETE FROM inventory WHERE kind = ? AND id = ?", (kind, item_id)).rowcount == 1
            )
        )

    async def inventory_list(self, kind: str) -> list[dict[str, Any]]:
        rows = await self.fetchall("SELECT data FROM inventory WHERE kind = ? ORDER BY seq", (kind,))
        return [dict(json.loads(row[0])) for row in rows]


def _chain(source: asyncio.Future[None], target: asyncio.Future[None]) -> None:
    """Resolve `target` when `source` resolves."""

    def resolve(done: asyncio.Future[None]) -> None:
        if not target.done():
            target.set_result(None)

    source.add_done_callback(resolve)


def _in_transaction(fn: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
    """Worker-thread side of `Store.run_transaction`."""
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return result
