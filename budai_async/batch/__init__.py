"""Fan-out: `create_many` (chunked batch submits with pacing), `wait_all`, `as_completed` and
the status watch behind them, with their result types.

May import the client core (`_http`, `_retry`, `_convert`, `errors`, `models`) and `logs._reconnect`;
never the client or the resources: it is handed a `Requester`.
"""

from budai_async.batch._fanout import (
    BatchCounts,
    BatchEntry,
    BatchError,
    BatchItem,
    BatchProgress,
    BatchResult,
    ExecutionStream,
    ItemError,
    ParamSet,
    WatchOptions,
    as_completed,
    create_many,
    wait_all,
)

__all__ = [
    "BatchCounts",
    "BatchEntry",
    "BatchError",
    "BatchItem",
    "BatchProgress",
    "BatchResult",
    "ExecutionStream",
    "ItemError",
    "ParamSet",
    "WatchOptions",
    "as_completed",
    "create_many",
    "wait_all",
]
