"""The closed sets of values calls accept, as `Literal` types, so a type checker catches a typo.

``client.executions.create(pid, priority="urgent")`` fails mypy; the enums (`Priority`,
`ExecutionStatus`) are accepted wherever their values are, since they are `str` enums.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from budai_async.models import ExecutionStatus, Priority

__all__ = [
    "ExecutionStatusLike",
    "ExecutionStatusName",
    "PriorityLike",
    "PriorityName",
    "SortField",
    "SortOrder",
]

PriorityName: TypeAlias = Literal["high", "normal", "low"]
PriorityLike: TypeAlias = Priority | PriorityName
ExecutionStatusName: TypeAlias = Literal["pending", "running", "completed", "failed", "cancelled", "timeout"]
ExecutionStatusLike: TypeAlias = ExecutionStatus | ExecutionStatusName
SortField: TypeAlias = Literal["created_at", "completed_at", "status", "duration_seconds"]
SortOrder: TypeAlias = Literal["asc", "desc"]
