"""Execution list queries as data: filters, sort, offset or keyset cursor, turned into SQL.

Pure (no I/O): the routes parse query strings into an `ExecutionQuery`, the store runs the SQL this
module builds. The cursor is opaque to clients (base64url JSON) and carries the sort it belongs to,
so a page fetched by cursor never skips or repeats rows that were inserted between two requests.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import attrs

from budai_server.nesting import exceeds_depth

__all__ = [
    "SORT_FIELDS",
    "Cursor",
    "ExecutionQuery",
    "decode_cursor",
    "encode_cursor",
    "execution_where",
    "keyset_clause",
    "order_clause",
    "sort_value",
]

# Sort key -> SQL expression. NULLs are folded to a value that sorts first ascending, so the keyset
# comparison stays a plain tuple comparison.
SORT_FIELDS: dict[str, str] = {
    "created_at": "created_at",
    "completed_at": "COALESCE(completed_at, '')",
    "status": "status",
    "duration_seconds": "COALESCE(duration_seconds, -1.0)",
}


@attrs.frozen(kw_only=True)
class Cursor:
    """Position after the last row of a page: its sort value and its insertion sequence."""

    sort_by: str
    sort_order: str
    value: str | float
    seq: int


@attrs.frozen(kw_only=True)
class ExecutionQuery:
    """Filters and paging of `GET /budpipeline/executions` (timestamps in the store's text form)."""

    pipeline_id: str | None = None
    statuses: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    created_after: str | None = None
    created_before: str | None = None
    sort_by: str = "created_at"
    sort_order: str = "desc"
    limit: int = 20
    offset: int = 0
    cursor: Cursor | None = None


def encode_cursor(cursor: Cursor) -> str:
    """Serialise a cursor into the opaque token handed to clients."""
    raw = json.dumps(
        {"s": cursor.sort_by, "o": cursor.sort_order, "v": cursor.value, "q": cursor.seq},
        separators=(",", ":"),
    ).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    """Parse a client's cursor token; raises ValueError when it was not made by `encode_cursor`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        if exceeds_depth(raw, 1):  # a cursor is one flat object
            raise ValueError("too deep")
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError("cursor is not a token returned by this server") from exc
    if not isinstance(data, dict):
        raise ValueError("cursor is not a token returned by this server")
    sort_by, order, value, seq = data.get("s"), data.get("o"), data.get("v"), data.get("q")
    if (
        sort_by not in SORT_FIELDS
        or order not in ("asc", "desc")
        or isinstance(value, bool)
        or not isinstance(value, str | int | float)
        or isinstance(seq, bool)
        or not isinstance(seq, int)
    ):
        raise ValueError("cursor is not a token returned by this server")
    return Cursor(sort_by=sort_by, sort_order=order, value=value, seq=seq)


def sort_value(sort_by: str, row: dict[str, Any]) -> str | float:
    """The value of a row's sort expression, computed the same way as `SORT_FIELDS` does in SQL."""
    if sort_by == "completed_at":
        return str(row["completed_at"] or "")
    if sort_by == "duration_seconds":
        duration = row["duration_seconds"]
        return -1.0 if duration is None else float(duration)
    return str(row[sort_by])


def execution_where(query: ExecutionQuery) -> tuple[str, list[Any]]:
    """WHERE clause (without the keyset part) and its parameters for the query's filters."""
    clauses: list[str] = []
    params: list[Any] = []
    if query.pipeline_id is not None:
        clauses.append("pipeline_id = ?")
        params.append(query.pipeline_id)
    if query.statuses:
        clauses.append(f"status IN ({','.join('?' * len(query.statuses))})")
        params.extend(query.statuses)
    if query.tags:
        tags = sorted(set(query.tags))
        clauses.append(
            "seq IN (SELECT execution_seq FROM execution_tags"
            f" WHERE tag IN ({','.join('?' * len(tags))})"
            " GROUP BY execution_seq HAVING COUNT(*) = ?)"
        )
        params.extend(tags)
        params.append(len(tags))
    if query.created_after is not None:
        clauses.append("created_at >= ?")
        params.append(query.created_after)
    if query.created_before is not None:
        clauses.append("created_at < ?")
        params.append(query.created_before)
    return (" AND ".join(clauses) or "1"), params


def keyset_clause(cursor: Cursor) -> tuple[str, list[Any]]:
    """The condition selecting rows after `cursor` in its sort order."""
    expr = SORT_FIELDS[cursor.sort_by]
    op = "<" if cursor.sort_order == "desc" else ">"
    return f"({expr} {op} ? OR ({expr} = ? AND seq {op} ?))", [cursor.value, cursor.value, cursor.seq]


def order_clause(sort_by: str, sort_order: str) -> str:
    """ORDER BY body: the sort expression, then insertion order as the tie-breaker."""
    direction = "DESC" if sort_order == "desc" else "ASC"
    return f"{SORT_FIELDS[sort_by]} {direction}, seq {direction}"
