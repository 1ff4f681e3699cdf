"""SQLite persistence of execution log lines, on the server store's shared aiosqlite connection.

One table keyed by (execution_id, seq), created IF NOT EXISTS at start; levels are stored as ranks
so "at least warning" is a plain comparison. Writes come in batches from the log bus's flusher
(multi-row INSERTs inside the store's write transaction, so they never interleave with the store's
own writes); reads serve REST pages and websocket backlogs.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from budai_async.logs.cursor import LEVELS, LogFilter, level_name

if TYPE_CHECKING:
    from budai_server.store.database import Store

__all__ = ["LogLine", "LogStore", "format_timestamp", "new_line"]


_LEVEL_NAMES = LEVELS
#: A LogLine from a 6-tuple or a row, without the NamedTuple's Python-level __new__ (hot paths).
new_line = tuple.__new__
_stamp_cache: list[Any] = [None, ""]  # [whole second, its "YYYY-MM-DDTHH:MM:SS" text]


def format_timestamp(ts: float) -> str:
    """Epoch seconds as ISO-8601 UTC with microseconds and ``Z`` (what `datetime.isoformat` gives).

    The per-second prefix is cached: a busy stream formats many lines of the same second, and
    this runs once per line on the hot path.
    """
    second = int(ts)
    micros = round((ts - second) * 1_000_000)
    if micros == 1_000_000:
        second, micros = second + 1, 0
    if second != _stamp_cache[0]:
        _stamp_cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _stamp_cache[0] = second
    return "%s.%06dZ" % (_stamp_cache[1], micros)  # noqa: UP031 - faster than an f-string here


class LogLine(NamedTuple):
    """One log line as the server holds it; a tuple, so it is also the row the INSERT writes."""

    execution_id: str
    seq: int
    ts: float  # epoch seconds
    rank: int  # level rank, see budai_async.logs.cursor.LEVELS
    step_id: str | None
    message: str

    def wire(self) -> dict[str, Any]:
        """The JSON form shared by REST and websocket frames (a `LogEntry` on the SDK side)."""
        return {
            "seq": self.seq,
            "timestamp": format_timestamp(self.ts),
            "level": _LEVEL_NAMES[self.rank] if 0 <= self.rank < len(_LEVEL_NAMES) else level_name(self.rank),
            "step_id": self.step_id,
            "message": self.message,
            "execution_id": self.execution_id,
        }


_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS execution_logs (
        execution_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts REAL NOT NULL,
        level INTEGER NOT NULL,
        step_id TEXT,
        message TEXT NOT NULL,
        PRIMARY KEY (execution_id, seq)
    ) WITHOUT ROWID
    """,
)

_INSERT_HEAD = "INSERT OR IGNORE INTO execution_logs (execution_id, seq, ts, level, step_id, message) VALUES "
# Most rows per statement (6 variables each) when SQLite allows that many variables.
_MAX_ROWS_PER_STATEMENT = 4096


@functools.cache
def _insert_sql(count: int) -> str:
    """The INSERT of `count` rows; only powers of two are asked for, so a few texts are cached."""
    return _INSERT_HEAD + ",".join(["(?,?,?,?,?,?)"] * count)


def insert_statements(
    rows: Sequence[LogLine], *, most_rows: int = _MAX_ROWS_PER_STATEMENT
) -> Iterator[tuple[str, list[Any]]]:
    """Multi-row INSERTs covering `rows` in order, each of a power-of-two size <= `most_rows`.

    Why not `executemany`: it releases the GIL around every row's step and takes it back after,
    and while the event loop thread is busy each take waits for the loop to let go (up to the
    interpreter's 5 ms switch interval). A burst then wrote at ~34 µs a row and slowed the loop
    with forced switches; one statement of many rows does the same work with one release. Sizes
    are powers of two so SQLite's statement cache holds every text needed.
    """
    start, total = 0, len(rows)
    cap = 1 << (max(1, min(most_rows, _MAX_ROWS_PER_STATEMENT)).bit_length() - 1)
    while start < total:
        size = min(cap, 1 << ((total - start).bit_length() - 1))
        chunk = rows[start : start + size]
        yield _insert_sql(size), list(itertools.chain.from_iterable(chunk))
        start += size


class LogStore:
    """Reads and writes log lines through the server `Store`; owns only the `execution_logs` table."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create_schema(self) -> None:
        """Create the table if it is missing (safe to call on every start)."""

        def create(conn: sqlite3.Connection) -> None:
            for statement in _SCHEMA:
                conn.execute(statement)

        await self._store.run_transaction(create)

    async def write(self, rows: Sequence[LogLine]) -> None:
        """Insert a batch in one transaction; rows already stored are ignored, so a retry is safe.

        The insert runs as one job on the store's worker thread, so the event loop (and the
        engine on it) never waits for SQLite.
        """
        if not rows:
            return

        def insert(conn: sqlite3.Connection) -> None:
            most = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(LogLine._fields)
            for sql, params in insert_statements(rows, most_rows=most):
                conn.execute(sql, params)

        await self._store.run_transaction(insert)

    async def max_seq(self, execution_id: str) -> int:
        """The highest stored seq of an execution (0 when it has no lines)."""
        rows = list(
            await self._store.db.execute_fetchall(
                "SELECT MAX(seq) FROM execution_logs WHERE execution_id = ?", (execution_id,)
            )
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    async def execution_status(self, execution_id: str) -> str | None:
        """The execution's current status, or None when there is no such execution."""
        rows = await self._store.fetchall("SELECT status FROM executions WHERE id = ?", (execution_id,))
        return str(rows[0][0]) if rows else None

    async def read(
        self,
        execution_id: str,
        log_filter: LogFilter,
        *,
        after_seq: int = 0,
        before_seq: int | None = None,
        limit: int = 1000,
    ) -> list[LogLine]:
        """Lines with after_seq < seq (< before_seq) passing `log_filter`, in seq order, at most `limit`."""
        clauses = ["execution_id = ?", "seq > ?"]
        args: list[object] = [execution_id, after_seq]
        if before_seq is not None:
            clauses.append("seq < ?")
            args.append(before_seq)
        if log_filter.min_rank > 0:
            clauses.append("level >= ?")
            args.append(log_filter.min_rank)
        if log_filter.step_id is not None:
            clauses.append("step_id = ?")
            args.append(log_filter.step_id)
        if log_filter.since is not None:
            clauses.append("ts >= ?")
            args.append(log_filter.since)
        args.append(limit)
        sql = (
            "SELECT execution_id, seq, ts, level, step_id, message FROM execution_logs "
            f"WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?"
        )
        rows = await self._store.db.execute_fetchall(sql, args)
        # The columns are typed as LogLine's fields and only ever written from LogLines, so a row
        # becomes one without per-field conversions (backlogs and catch-ups read thousands).
        return [new_line(LogLine, row) for row in rows]
