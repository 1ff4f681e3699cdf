"""The one list query of the trigger stores: rows of a table newest first, filtered by equality, with
the total that matches (schedules, webhook triggers and event triggers list the same way)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from budai_server.store.database import Store

__all__ = ["newest_first_page"]


async def newest_first_page(
    store: Store, table: str, columns: str, filters: Mapping[str, Any], *, limit: int, offset: int
) -> tuple[list[sqlite3.Row], int]:
    """Rows of `table` whose columns equal every non-empty value of `filters`, newest first, and the
    count of all that match. Table and column names come from the stores, never from a request."""
    given = {column: value for column, value in filters.items() if value}
    where = " AND ".join(f"{column} = ?" for column in given) or "1"
    params = list(given.values())
    total = await store.fetchall(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)
    rows = await store.fetchall(
        f"SELECT {columns} FROM {table} WHERE {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return rows, int(total[0][0])
