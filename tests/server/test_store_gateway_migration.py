"""Core migration 2 brings a database of the previous build to the gateway's fields without loss."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from budai_server.store.database import Store
from budai_server.store.schema import CORE_COMPONENT, CORE_MIGRATIONS

T = "2026-03-14T10:00:00.000000Z"


def _version_one_database(path: Path) -> None:
    """A database as the build before migration 2 left it, with one pipeline and one execution."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    for statement in CORE_MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_versions VALUES (?, 1)", (CORE_COMPONENT,))
    conn.executemany(
        "INSERT INTO pipelines (id, name, definition, tags, created_at, updated_at) "
        "VALUES (?, ?, '{\"steps\": []}', ?, ?, ?)",
        [("pipe_old", "old", '["ml", "prod"]', T, T), ("pipe_bare", "bare", "[]", T, T)],
    )
    conn.execute(
        "INSERT INTO executions (id, status, priority, params, tags, definition, created_at) "
        "VALUES ('exec_old', 'completed', 'normal', '{}', '[\"t\"]', '{}', ?)",
        (T,),
    )
    conn.commit()
    conn.close()


async def test_an_older_database_gets_tag_maps_and_the_gateway_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _version_one_database(path)
    async with Store(path) as store:
        old = await store.get_pipeline("pipe_old")
        bare = await store.get_pipeline("pipe_bare")
        execution = await store.get_execution("exec_old")
        versions = await store.fetchall("SELECT version FROM schema_versions WHERE component = 'core'")
    assert old is not None and bare is not None and execution is not None
    assert (old.tags, old.is_active, old.icon) == ({"ml": "", "prod": ""}, True, None)
    assert bare.tags == {}
    assert (execution.tags, execution.context, execution.callback_topics, execution.initiator) == (
        ["t"],
        {},
        [],
        None,
    )
    assert versions[0][0] == len(CORE_MIGRATIONS)
