"""SQLite store (the default): one WAL-mode connection whose writes one task batches.

Every write goes through a queue that a single writer task drains in batches: the claims of a batch
become one multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` (the atomic claim) and its
successful finishes one ``UPDATE``, each committing by itself in a single trip to aiosqlite's
thread, so a burst of callbacks costs a couple of commits rather than one per callback. A claim's
future resolves only after its commit, so the HTTP acknowledgement always follows durable storage.
WAL checkpoints run on a second connection, never in a commit.

One serving process per database file: rows held by an earlier run (a crashed process) are taken
over at start; the CLI's ``dead-letters`` and ``replay`` may use the file at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

import aiosqlite
import attrs

from receiver.stores.base import (
    DEFAULT_RETENTION_SECONDS,
    Claim,
    DeadLetter,
    Finish,
    Store,
    StoredEvent,
    StoreError,
)

__all__ = ["SQLiteStore"]

log = logging.getLogger("receiver.stores.sqlite")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS receiver_events (
    id TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    received_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    owner TEXT,
    failures TEXT,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS receiver_events_open ON receiver_events (state, received_at)
    WHERE state <> 'done';
CREATE TABLE IF NOT EXISTS receiver_handler_done (
    event_id TEXT NOT NULL,
    handler TEXT NOT NULL,
    done_at REAL NOT NULL,
    PRIMARY KEY (event_id, handler)
) WITHOUT ROWID;
"""

_SYNCHRONOUS = ("off", "normal", "full", "extra")
_MAX_IDS = 500  # ids per UPDATE ... IN (...), well under SQLite's bound-parameter limit
_DEAD = "UPDATE receiver_events SET state = 'dead', failures = ?, finished_at = ?, owner = NULL WHERE id = ?"
_MARK_DONE = (
    "INSERT INTO receiver_handler_done (event_id, handler, done_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
_Call = Callable[[aiosqlite.Connection], Awaitable[Any]]


@attrs.define
class _Write:
    """One queued write: a claim, a successful finish, a plain statement, or a call with a result."""

    future: asyncio.Future[Any]
    claims: Sequence[Claim] | None = None
    done_at: float | None = None
    sql: str | None = None
    params: tuple[Any, ...] = ()
    call: _Call | None = None


class SQLiteStore(Store):
    """Durable single-process store in one SQLite file (WAL, ``synchronous=normal`` by default).

    ``synchronous=normal`` survives a killed process; pass ``synchronous="full"`` to also survive a
    power loss at the cost of an fsync per commit. WAL checkpoints run every `checkpoint_interval`
    seconds on a second connection, so a commit never waits for one.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "normal",
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        max_batch: int = 256,
        checkpoint_interval: float = 1.0,
    ) -> None:
        if synchronous.lower() not in _SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}")
        self.path = os.fspath(path)
        self.synchronous = synchronous.lower()
        self.retention_seconds = retention_seconds
        self._max_batch = max_batch
        self._db: aiosqlite.Connection | None = None
        self._writes: asyncio.Queue[_Write | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self.checkpoint_interval = checkpoint_interval
        self._checkpoints: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    async def open(self) -> None:
        """Open the file, switch it to WAL, create the tables, start the writer and the checkpointer."""
        await super().open()
        db = await self._connect()
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            # Checkpoints (two fsyncs each) run on their own connection, off the commit path.
            await db.execute("PRAGMA wal_autocheckpoint=0")
            await db.executescript(_SCHEMA)
            checkpointer = await self._connect()
        except sqlite3.Error as exc:
            await db.close()
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc
        self._db = db
        self._writes = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(db), name="receiver-sqlite-writer")
        self._checkpoints = asyncio.create_task(
            self._checkpoint_loop(checkpointer), name="receiver-sqlite-wal"
        )

    async def _connect(self) -> aiosqlite.Connection:
        try:
            # Autocommit: the writer opens transactions itself, and a lone statement needs none.
            db = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc
        try:
            await db.execute(f"PRAGMA synchronous={self.synchronous}")
            await db.execute("PRAGMA busy_timeout=5000")
        except sqlite3.Error as exc:
            await db.close()
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc
        return db

    async def _checkpoint_loop(self, db: aiosqlite.Connection) -> None:
        """Copy the WAL into the database every `checkpoint_interval` s without blocking writers."""
        try:
            while True:
                await asyncio.sleep(self.checkpoint_interval)
                try:
                    await db.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            with contextlib.suppress(sqlite3.Error):
                await db.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
            await db.close()

    async def close(self) -> None:
        """Let queued writes commit, then stop the writer, checkpoint, and close the connections."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            self._writes.put_nowait(None)
            await writer
        while not self._writes.empty():  # queued behind the stop marker: never to be written
            left = self._writes.get_nowait()
            if left is not None and not left.future.done():
                left.future.set_exception(StoreError("store closed before the write"))
        if self._checkpoints is not None:
            checkpoints, self._checkpoints = self._checkpoints, None
            checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checkpoints
        if self._db is not None:
            await self._db.close()
            self._db = None

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("store is not open")
        return self._db

    def _submit(self, write: _Write) -> asyncio.Future[Any]:
        if self._writer is None or self._writer.done():
            raise StoreError("store is not open")
        self._writes.put_nowait(write)
        return write.future

    def _future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    async def _exec(self, sql: str, *params: Any) -> None:
        await self._submit(_Write(self._future(), sql=sql, params=params))

    async def _call(self, call: _Call) -> Any:
        return await self._submit(_Write(self._future(), call=call))

    # -- the writer --------------------------------------------------------------------------------

    async def _write_loop(self, db: aiosqlite.Connection) -> None:
        stopping = False
        while not stopping:
            first = await self._writes.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch and not self._writes.empty():
                item = self._writes.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            await self._commit(db, batch)

    async def _commit(self, db: aiosqlite.Connection, batch: list[_Write]) -> None:
        """Write a batch in up to three steps, claims first so acknowledgements go out soonest.

        Claims become one multi-row INSERT and successful finishes one UPDATE; each is a single
        statement, so it commits by itself in one trip to the connection's thread. Anything else
        (dead letters, done markers, releases, calls) runs in one explicit transaction.
        """
        claims = [w for w in batch if w.claims is not None]
        finished = [w for w in batch if w.done_at is not None]
        rest = [w for w in batch if w.claims is None and w.done_at is None]
        if claims:
            await self._step(db, claims, self._write_claims)
        if finished:
            await self._step(db, finished, self._write_finished)
        if rest:
            await self._step(db, rest, self._write_rest)

    async def _step(
        self,
        db: aiosqlite.Connection,
        writes: list[_Write],
        apply: Callable[[aiosqlite.Connection, list[_Write]], Awaitable[list[Any]]],
    ) -> None:
        try:
            results = await apply(db, writes)
        except Exception as exc:  # the step failed as a whole: nothing in it was committed
            log.exception("SQLite write of %d item(s) failed", len(writes))
            if db.in_transaction:
                with contextlib.suppress(Exception):
                    await db.rollback()
            error = StoreError(f"SQLite write failed: {exc}")
            for write in writes:
                if not write.future.done():
                    write.future.set_exception(error)
            return
        for write, result in zip(writes, results, strict=True):
            if not write.future.done():
                write.future.set_result(result)

    async def _write_claims(self, db: aiosqlite.Connection, writes: list[_Write]) -> list[Any]:
        claims = [claim for write in writes for claim in write.claims or ()]
        first = {claim[0]: claim for claim in reversed(claims)}  # the same id twice: the first decides
        values = ", ".join(["(?, ?, ?, ?)"] * len(first))
        params: list[Any] = []
        for event_id, body, received_at in first.values():
            params += [event_id, body, received_at, self.owner]
        rows = await db.execute_fetchall(
            f"INSERT INTO receiver_events (id, body, received_at, owner) VALUES {values} "
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            params,
        )
        inserted = {row[0] for row in rows}
        results: list[Any] = []
        for write in writes:  # each write gets one answer per claim it carried
            answers: list[bool] = []
            for event_id, _, _ in write.claims or ():
                answers.append(event_id in inserted)
                inserted.discard(event_id)  # a later claim of the same id in this batch is a duplicate
            results.append(answers)
        return results

    async def _write_finished(self, db: aiosqlite.Connection, writes: list[_Write]) -> list[Any]:
        ids = [event_id for write in writes for event_id in write.params]
        at = max(write.done_at or 0.0 for write in writes)
        chunks = [ids[n : n + _MAX_IDS] for n in range(0, len(ids), _MAX_IDS)]
        if len(chunks) > 1:  # one statement commits by itself; several need a transaction
            await db.execute("BEGIN IMMEDIATE")
        for chunk in chunks:
            await db.execute_fetchall(
                "UPDATE receiver_events SET state = 'done', failures = NULL, finished_at = ?, owner = NULL "
                f"WHERE id IN ({', '.join('?' * len(chunk))})",
                [at, *chunk],
            )
        if len(chunks) > 1:
            await db.execute("COMMIT")
        return [None] * len(writes)

    async def _write_rest(self, db: aiosqlite.Connection, writes: list[_Write]) -> list[Any]:
        statements: dict[str, list[tuple[Any, ...]]] = {}
        for write in writes:
            if write.sql is not None:
                statements.setdefault(write.sql, []).append(write.params)
        lone = len(writes) == 1 and writes[0].sql is not None
        if not lone:
            await db.execute("BEGIN IMMEDIATE")
        for sql, rows in statements.items():
            await db.executemany(sql, rows)
        results = [await write.call(db) if write.call is not None else None for write in writes]
        if not lone:
            await db.execute("COMMIT")
        return results

    # -- the interface -----------------------------------------------------------------------------

    async def claim(self, event_id: str, body: bytes, *, received_at: float) -> bool:
        """Insert the event unless its id exists; resolves after the commit."""
        return (await self.claim_many([(event_id, body, received_at)]))[0]

    async def claim_many(self, claims: Sequence[Claim]) -> list[bool]:
        """Insert the events whose ids are new, in the writer's next multi-row INSERT; after the commit."""
        if not claims:
            return []
        result: list[bool] = await self._submit(_Write(self._future(), claims=claims))
        return result

    async def acquire(self, *, limit: int) -> list[StoredEvent]:
        """Take pending events held by no one or by an earlier run of this store."""
        owner = self.owner

        async def take(db: aiosqlite.Connection) -> list[StoredEvent]:
            rows = await db.execute_fetchall(
                "UPDATE receiver_events SET owner = ? WHERE id IN ("
                " SELECT id FROM receiver_events WHERE state = 'pending'"
                " AND (owner IS NULL OR owner <> ?) ORDER BY received_at LIMIT ?"
                ") RETURNING id, body, received_at",
                (owner, owner, limit),
            )
            done = await _done_handlers(db, [row[0] for row in rows])
            return [
                StoredEvent(
                    id=r[0], body=bytes(r[1]), received_at=r[2], done_handlers=done.get(r[0], frozenset())
                )
                for r in sorted(rows, key=lambda r: float(r[2]))
            ]

        events: list[StoredEvent] = await self._call(take)
        return events

    async def mark_handler_done(self, event_id: str, handler: str) -> None:
        await self._exec(_MARK_DONE, event_id, handler, time.time())

    async def finish(self, event_id: str, *, failures: Mapping[str, str], at: float) -> None:
        await self.finish_many([(event_id, failures, at)])

    async def finish_many(self, finished: Sequence[Finish]) -> None:
        """The successful ones join the writer's next multi-row UPDATE as one write; dead letters
        are written one statement each, in one transaction of the same batch."""
        done = tuple(event_id for event_id, failures, _ in finished if not failures)
        writes = [
            self._submit(_Write(self._future(), sql=_DEAD, params=(json.dumps(dict(failures)), at, event_id)))
            for event_id, failures, at in finished
            if failures
        ]
        if done:
            at = max(at for _, failures, at in finished if not failures)
            writes.append(self._submit(_Write(self._future(), done_at=at, params=done)))
        if len(writes) == 1:
            await writes[0]
        elif writes:
            await asyncio.gather(*writes)

    async def release(self, event_ids: Collection[str]) -> None:
        sql = "UPDATE receiver_events SET owner = NULL WHERE id = ? AND owner = ? AND state = 'pending'"
        owner = self.owner
        await asyncio.gather(
            *(
                self._submit(_Write(self._future(), sql=sql, params=(event_id, owner)))
                for event_id in event_ids
            )
        )

    async def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            return list(await self._conn().execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite read failed: {exc}") from exc

    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        rows = await self._read(
            "SELECT id, body, received_at, finished_at, failures FROM receiver_events "
            "WHERE state = 'dead' ORDER BY finished_at, id LIMIT ?",
            (limit,),
        )
        try:
            done = await _done_handlers(self._conn(), [row[0] for row in rows])
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite read failed: {exc}") from exc
        return [
            DeadLetter(
                id=r[0],
                body=bytes(r[1]),
                received_at=r[2],
                failed_at=r[3] or 0.0,
                failures=json.loads(r[4] or "{}"),
                done_handlers=done.get(r[0], frozenset()),
            )
            for r in rows
        ]

    async def replay(self, event_id: str) -> bool:
        async def flip(db: aiosqlite.Connection) -> bool:
            async with db.execute(
                "UPDATE receiver_events SET state = 'pending', owner = NULL, failures = NULL, "
                "finished_at = NULL WHERE id = ? AND state = 'dead'",
                (event_id,),
            ) as cursor:
                return cursor.rowcount == 1

        replayed: bool = await self._call(flip)
        return replayed

    async def state(self, event_id: str) -> str | None:
        rows = await self._read("SELECT state FROM receiver_events WHERE id = ?", (event_id,))
        return str(rows[0][0]) if rows else None

    async def purge(self, *, older_than: float) -> int:
        async def delete(db: aiosqlite.Connection) -> int:
            await db.execute_fetchall(
                "DELETE FROM receiver_handler_done WHERE event_id IN ("
                " SELECT id FROM receiver_events WHERE state = 'done' AND received_at < ?)",
                (older_than,),
            )
            async with db.execute(
                "DELETE FROM receiver_events WHERE state = 'done' AND received_at < ?", (older_than,)
            ) as cursor:
                return cursor.rowcount

        purged: int = await self._call(delete)
        return purged


async def _done_handlers(db: aiosqlite.Connection, event_ids: list[str]) -> dict[str, frozenset[str]]:
    if not event_ids:
        return {}
    marks = ", ".join("?" * len(event_ids))
    rows = await db.execute_fetchall(
        f"SELECT event_id, handler FROM receiver_handler_done WHERE event_id IN ({marks})", event_ids
    )
    found: dict[str, set[str]] = {}
    for event_id, handler in rows:
        found.setdefault(event_id, set()).add(handler)
    return {event_id: frozenset(handlers) for event_id, handlers in found.items()}
