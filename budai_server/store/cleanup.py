"""Delete ended executions with everything stored about them: logs, callback deliveries, attempts.

The guide advises "Delete old executions to save storage"; logs and the callback outbox grow with
every execution, so they go with it. Only ended executions (completed, failed, cancelled, timeout)
are ever removed - the status test is part of the DELETE itself, so an execution that is pending or
running cannot be removed even if a request races with it. Work is done in batches of `BATCH`
executions, one transaction each, so a large purge never holds the shared connection for long.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import attrs

from budai_server.listing import ExecutionQuery, execution_where

if TYPE_CHECKING:
    from budai_server.store.database import Store

__all__ = ["BATCH", "ENDED_STATUSES", "CleanupFilter", "count_executions", "delete_executions"]

ENDED_STATUSES: tuple[str, ...] = ("completed", "failed", "cancelled", "timeout")
BATCH = 500

# Tables other components own on the same database, with how their rows name an execution.
_DEPENDENT_DELETES: tuple[tuple[str, str], ...] = (
    ("execution_logs", "DELETE FROM execution_logs WHERE execution_id = ?"),
    (
        "callback_attempts",
        "DELETE FROM callback_attempts WHERE delivery_id IN "
        "(SELECT id FROM callback_deliveries WHERE execution_id = ?)",
    ),
    ("callback_deliveries", "DELETE FROM callback_deliveries WHERE execution_id = ?"),
)


@attrs.frozen(kw_only=True)
class CleanupFilter:
    """Which ended executions to delete (every given filter must match; store time text)."""

    ids: tuple[str, ...] = ()
    pipeline_id: str | None = None
    statuses: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    created_after: str | None = None
    created_before: str | None = None
    completed_before: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause over `executions` (always limited to ended statuses) and its parameters."""
        statuses = tuple(s for s in self.statuses if s in ENDED_STATUSES) if self.statuses else ENDED_STATUSES
        clause, params = execution_where(
            ExecutionQuery(
                pipeline_id=self.pipeline_id,
                statuses=statuses or ("",),  # asked only for statuses that never end: match nothing
                tags=self.tags,
                created_after=self.created_after,
                created_before=self.created_before,
            )
        )
        if self.ids:
            clause += f" AND id IN ({','.join('?' * len(self.ids))})"
            params.extend(self.ids)
        if self.completed_before is not None:
            clause += " AND completed_at IS NOT NULL AND completed_at < ?"
            params.append(self.completed_before)
        return clause, params


async def count_executions(store: Store, cleanup: CleanupFilter) -> int:
    """How many executions `delete_executions` would remove now (a dry run)."""
    where, params = cleanup.where()
    rows = await store.fetchall(f"SELECT COUNT(*) FROM executions WHERE {where}", params)
    return int(rows[0][0])


async def delete_executions(store: Store, cleanup: CleanupFilter) -> int:
    """Delete the matching ended executions, their tags, logs, deliveries and attempts; the count.

    Flush the log bus first (`LogBus.flush`) so no buffered line of these executions lands afterwards.
    """
    await store.flush()  # buffered execution states first, so the status test sees the latest
    where, params = cleanup.where()
    total = 0
    while True:
        removed = await store.run_transaction(lambda conn: _delete_batch(conn, where, params))
        total += removed
        if removed < BATCH:
            return total


def _delete_batch(conn: sqlite3.Connection, where: str, params: list[Any]) -> int:
    rows = conn.execute(f"SELECT seq, id FROM executions WHERE {where} LIMIT ?", [*params, BATCH]).fetchall()
    if not rows:
        return 0
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    ids = [(row[1],) for row in rows]
    seqs = [(row[0],) for row in rows]
    for table, statement in _DEPENDENT_DELETES:
        if table in tables and (table != "callback_attempts" or "callback_deliveries" in tables):
            conn.executemany(statement, ids)
    conn.executemany("DELETE FROM execution_tags WHERE execution_seq = ?", seqs)
    conn.executemany("DELETE FROM executions WHERE seq = ?", seqs)
    return len(rows)
