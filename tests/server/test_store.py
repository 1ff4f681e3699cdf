"""The SQLite store on a temporary file: schema migrations, CRUD, filters, cursors, batched writes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from budai_async.models import Execution, ExecutionStatus, Pipeline, Priority, StepRun, StepStatus
from budai_server.listing import Cursor, ExecutionQuery, decode_cursor, encode_cursor
from budai_server.store.database import IdempotencyRecord, SchemaTooNewError, Store, db_time
from budai_server.store.schema import CORE_MIGRATIONS

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def pipeline(pipeline_id: str, name: str) -> Pipeline:
    return Pipeline(id=pipeline_id, name=name, definition={"steps": []}, created_at=T0, updated_at=T0)


def execution(execution_id: str, minute: int, **fields: object) -> Execution:
    return Execution(id=execution_id, created_at=T0 + timedelta(minutes=minute), **fields)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(tmp_path / "s.db", flush_interval=0.001) as opened:
        yield opened


async def test_open_sets_wal_and_records_the_schema_version(tmp_path: Path) -> None:
    async with Store(tmp_path / "s.db") as store:
        rows = await store.fetchall("PRAGMA journal_mode")
        assert rows[0][0] == "wal"
        versions = await store.fetchall("SELECT component, version FROM schema_versions")
        assert [tuple(row) for row in versions] == [("core", len(CORE_MIGRATIONS))]


async def test_other_components_migrate_in_order_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = Store(path)
    first.register_migrations("extra", [["CREATE TABLE extra (x INTEGER)"]])
    async with first:
        await first.run_transaction(lambda conn: conn.execute("INSERT INTO extra VALUES (1)"))
    second = Store(path)
    second.register_migrations(
        "extra", [["CREATE TABLE extra (x INTEGER)"], ["ALTER TABLE extra ADD COLUMN y INTEGER DEFAULT 7"]]
    )
    async with second:
        rows = await second.fetchall("SELECT x, y FROM extra")
        assert [tuple(row) for row in rows] == [(1, 7)]
        versions = dict(tuple(row) for row in await second.fetchall("SELECT * FROM schema_versions"))
        assert versions == {"core": len(CORE_MIGRATIONS), "extra": 2}


async def test_a_database_from_a_newer_build_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with Store(path) as store:
        await store.run_transaction(
            lambda conn: conn.execute("UPDATE schema_versions SET version = 99 WHERE component = 'core'")
        )
    with pytest.raises(SchemaTooNewError):
        await Store(path).open()


async def test_run_transaction_rolls_back_on_error(store: Store) -> None:
    def write_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO inventory (kind, id, data) VALUES ('cluster', 'c1', '{}')")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.run_transaction(write_then_fail)
    assert await store.inventory_get("cluster", "c1") is None


async def test_pipeline_crud_and_optimistic_update(store: Store) -> None:
    await store.insert_pipeline(pipeline("p1", "Deploy Model"))
    await store.insert_pipeline(pipeline("p2", "Cleanup 100%_done"))
    got = await store.get_pipeline("p1")
    assert got == pipeline("p1", "Deploy Model")

    changed = attrs.evolve(got, name="Deploy Model v2", version=2)
    assert await store.update_pipeline(changed, expected_version=1)
    assert not await store.update_pipeline(attrs.evolve(changed, version=3), expected_version=1)
    assert (await store.get_pipeline("p1")).name == "Deploy Model v2"  # type: ignore[union-attr]

    items, total = await store.list_pipelines(name_contains="DEPLOY", limit=10, offset=0)
    assert ([p.id for p in items], total) == (["p1"], 1)
    items, total = await store.list_pipelines(name_contains="%_", limit=10, offset=0)
    assert ([p.id for p in items], total) == (["p2"], 1)  # wildcards are literal
    items, total = await store.list_pipelines(name_contains=None, limit=1, offset=1)
    assert ([p.id for p in items], total) == (["p1"], 2)  # newest first

    assert await store.delete_pipeline("p1")
    assert not await store.delete_pipeline("p1")
    assert await store.get_pipeline("p1") is None


async def test_executions_round_trip_with_their_definition_snapshot(store: Store) -> None:
    original = execution(
        "e1",
        0,
        pipeline_id="p1",
        priority=Priority.HIGH,
        params={"x": [1, {"y": None}]},
        tags=["a", "b"],
        steps={"s1": StepRun(), "s2": StepRun(status=StepStatus.COMPLETED, output={"v": 1}, attempts=1)},
        total_steps=2,
        callbacks={"on_complete": "http://example.test/hook"},
        timeout_seconds=5.0,
        retry_of="e0",
    )
    definition = {"steps": [{"id": "s1", "action": "log", "params": {}}]}
    await store.insert_execution(original, definition)
    assert await store.get_execution("e1") == original
    assert await store.get_execution_definition("e1") == definition
    assert await store.get_execution("nope") is None


async def test_buffered_states_are_read_back_and_group_committed(store: Store) -> None:
    await store.insert_execution(execution("e1", 0), {"steps": []})
    running = attrs.evolve(execution("e1", 0), status=ExecutionStatus.RUNNING, progress=50.0)
    store.buffer_execution(running)
    assert await store.get_execution("e1") == running  # a read flushes first

    for index in range(2, 6):
        await store.insert_execution(execution(f"e{index}", index), {"steps": []})
    finals = [
        attrs.evolve(execution(f"e{index}", index), status=ExecutionStatus.COMPLETED) for index in range(2, 6)
    ]
    await asyncio.gather(*(store.save_execution(final) for final in finals))
    path = store.path
    with sqlite3.connect(path) as other:  # a second connection sees the committed states
        statuses = other.execute("SELECT status FROM executions WHERE id != 'e1' ORDER BY seq").fetchall()
    assert statuses == [("completed",)] * 4


async def test_filters_tags_and_dates(store: Store) -> None:
    await store.insert_execution(execution("e1", 0, pipeline_id="p1", tags=["prod", "c1"]), {})
    await store.insert_execution(execution("e2", 10, pipeline_id="p1", tags=["prod"]), {})
    await store.insert_execution(
        execution("e3", 20, pipeline_id="p2", tags=["prod", "c1"], status=ExecutionStatus.FAILED), {}
    )

    async def ids(**query: object) -> list[str]:
        page = await store.list_executions(ExecutionQuery(**query))  # type: ignore[arg-type]
        return [item.id for item in page.items]

    assert await ids() == ["e3", "e2", "e1"]
    assert await ids(pipeline_id="p1") == ["e2", "e1"]
    assert await ids(tags=("prod", "c1")) == ["e3", "e1"]
    assert await ids(tags=("c1", "missing")) == []
    assert await ids(statuses=("failed", "completed")) == ["e3"]
    assert await ids(created_after=db_time(T0 + timedelta(minutes=10))) == ["e3", "e2"]
    assert await ids(created_before=db_time(T0 + timedelta(minutes=10))) == ["e1"]
    assert await ids(sort_order="asc") == ["e1", "e2", "e3"]
    assert await ids(sort_by="status", sort_order="asc") == ["e3", "e1", "e2"]  # failed < pending, then seq


async def test_cursor_pages_cover_everything_once_even_with_inserts_between(store: Store) -> None:
    for index in range(7):
        await store.insert_execution(
            execution(f"e{index}", index % 3, duration_seconds=None if index % 2 else float(index)), {}
        )
    for sort_by in ("created_at", "completed_at", "status", "duration_seconds"):
        for order in ("asc", "desc"):
            query = ExecutionQuery(sort_by=sort_by, sort_order=order, limit=3)
            expected = [
                item.id for item in (await store.list_executions(attrs.evolve(query, limit=100))).items
            ]
            seen: list[str] = []
            page = await store.list_executions(query)
            seen += [item.id for item in page.items]
            while page.next_cursor:
                page = await store.list_executions(
                    attrs.evolve(query, cursor=decode_cursor(page.next_cursor))
                )
                seen += [item.id for item in page.items]
            assert seen == expected, (sort_by, order)
            assert page.total == 7


def test_cursor_tokens_round_trip_and_reject_garbage() -> None:
    cursor = Cursor(sort_by="duration_seconds", sort_order="asc", value=1.5, seq=9)
    assert decode_cursor(encode_cursor(cursor)) == cursor
    for token in ("", "!!!", "bm90IGpzb24", encode_cursor(cursor)[:-3], "eyJzIjoieCJ9"):
        with pytest.raises(ValueError):
            decode_cursor(token)


async def test_idempotency_records_first_writer_wins_and_purge(store: Store) -> None:
    record = IdempotencyRecord(
        key="k", route="POST /x", fingerprint="f1", status=201, body="{}", created_at=T0
    )
    await store.save_idempotency(record)
    await store.save_idempotency(attrs.evolve(record, fingerprint="f2", body='{"a":1}'))
    assert await store.get_idempotency("k", "POST /x") == record
    assert await store.get_idempotency("k", "POST /y") is None
    assert await store.purge_idempotency(T0 + timedelta(seconds=1)) == 1
    assert await store.get_idempotency("k", "POST /x") is None


async def test_inventory_store_protocol(store: Store) -> None:
    await store.inventory_put("model", "m1", {"id": "m1", "name": "a"})
    await store.inventory_put("model", "m2", {"id": "m2"})
    await store.inventory_put("model", "m1", {"id": "m1", "name": "b"})
    assert await store.inventory_get("model", "m1") == {"id": "m1", "name": "b"}
    assert [item["id"] for item in await store.inventory_list("model")] == ["m1", "m2"]
    assert await store.inventory_list("cluster") == []
    assert await store.inventory_delete("model", "m1")
    assert not await store.inventory_delete("model", "m1")
