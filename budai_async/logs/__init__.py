"""Execution logs: REST pages, the websocket follower, its cursor and reconnect timing.

May import the client core only; never the client or the resources.
"""

from budai_async.logs._reader import (
    FollowOptions,
    LogStream,
    SinceLike,
    build_query,
    execution_logs,
    fetch_logs,
    stream_url,
)

__all__ = [
    "FollowOptions",
    "LogStream",
    "SinceLike",
    "build_query",
    "execution_logs",
    "fetch_logs",
    "stream_url",
]
