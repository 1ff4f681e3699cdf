"""Log batches are written as multi-row INSERTs that fit SQLite's variable limit, in order, once."""

from __future__ import annotations

import sqlite3

import pytest

from budai_server.logs.store import _SCHEMA, LogLine, insert_statements


@pytest.mark.parametrize(("count", "variables"), [(1, 32_766), (4999, 32_766), (1000, 60), (37, 6)])
def test_every_row_is_written_once_within_the_variable_limit(count: int, variables: int) -> None:
    conn = sqlite3.connect(":memory:")
    for statement in _SCHEMA:
        conn.execute(statement)
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variables)
    rows = [
        LogLine("exe_1", seq, 1.5 + seq, seq % 5, None if seq % 2 else "s", f"m{seq}")
        for seq in range(1, count + 1)
    ]
    statements = list(insert_statements(rows, most_rows=variables // 6))
    for sql, params in statements:
        assert len(params) <= variables
        conn.execute(sql, params)  # over the limit, SQLite would refuse it ("too many SQL variables")
    stored = conn.execute(
        "SELECT execution_id, seq, ts, level, step_id, message FROM execution_logs ORDER BY seq"
    )
    assert [LogLine(*row) for row in stored] == rows
    assert len({sql for sql, _ in statements}) <= max(1, count.bit_length())  # a few cached texts
