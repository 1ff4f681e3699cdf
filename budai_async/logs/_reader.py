"""Execution logs in the SDK: a paged REST read, and a websocket follower that never loses or repeats a line.

`execution_logs` is what `client.executions.logs(...)` calls: awaited, it pages
`GET .../logs` through `next_seq` (`fetch_logs`); with `follow=True` it returns a `LogStream`
(budai_async.logs._stream) that follows `GET .../logs/stream` and resumes by seq after any drop.
Filters are validated here, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import quote, urlsplit, urlunsplit

from budai_async._convert import converter, format_datetime
from budai_async._requester import websocket_headers
from budai_async.errors import BudError, ValidationError
from budai_async.logs._stream import FollowOptions, LogStream
from budai_async.logs.cursor import parse_level, parse_since
from budai_async.models import LogEntry

if TYPE_CHECKING:
    from budai_async._requester import Requester

__all__ = [
    "FollowOptions",
    "LogStream",
    "SinceLike",
    "build_query",
    "execution_logs",
    "fetch_logs",
    "stream_url",
]

SinceLike = str | datetime | timedelta
GetPage = Callable[[dict[str, str]], Awaitable[Any]]
"""Does `GET .../logs` with the given query and returns the decoded JSON body (raising our errors)."""


def _since_text(since: SinceLike, *, absolute: bool) -> str:
    """Query text for `since`; `absolute` pins a relative value to an instant on our clock."""
    if isinstance(since, datetime):
        return format_datetime(since if since.tzinfo else since.replace(tzinfo=UTC))
    if isinstance(since, timedelta):
        if since < timedelta(0):
            raise ValidationError("since must not be a negative duration")
        if absolute:
            return format_datetime(datetime.now(UTC) - since)
        return f"{since.total_seconds():g}s"
    try:
        instant = parse_since(since, datetime.now(UTC))
    except ValueError as error:
        raise ValidationError(str(error)) from error
    return format_datetime(instant) if absolute else since


def build_query(
    *,
    level: str | None = None,
    step_id: str | None = None,
    since: SinceLike | None = None,
    absolute_since: bool = False,
) -> dict[str, str]:
    """Validate the filters before anything is sent; raises ValidationError for a bad level or since."""
    query: dict[str, str] = {}
    if level is not None:
        try:
            query["level"] = parse_level(str(level))
        except ValueError as error:
            raise ValidationError(str(error)) from error
    if step_id is not None:
        query["step_id"] = step_id
    if since is not None:
        query["since"] = _since_text(since, absolute=absolute_since)
    return query


async def fetch_logs(get_page: GetPage, query: Mapping[str, str], *, page_size: int = 1000) -> list[LogEntry]:
    """Read every matching line over REST, following `next_seq` until the server says the end."""
    entries: list[LogEntry] = []
    after_seq = int(query.get("after_seq", "0"))
    while True:
        body = await get_page({**query, "after_seq": str(after_seq), "limit": str(page_size)})
        if not isinstance(body, Mapping) or not isinstance(body.get("items"), list):
            raise BudError(f"unexpected logs page: {type(body).__name__}")
        entries.extend(converter.structure(item, LogEntry) for item in body["items"])
        next_seq = body.get("next_seq")
        if next_seq is None or not body["items"]:
            return entries
        after_seq = int(next_seq)


def stream_url(base_url: str, execution_id: str) -> str:
    """The websocket URL of an execution's log stream, from the client's http(s) base URL."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValidationError(f"base_url must be http(s)://, got {base_url!r}")
    path = f"{parts.path.rstrip('/')}/budpipeline/executions/{quote(execution_id, safe='')}/logs/stream"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


@overload
def execution_logs(
    client: Requester,
    execution_id: str,
    *,
    level: str | None = ...,
    step_id: str | None = ...,
    since: SinceLike | None = ...,
    follow: Literal[False] = ...,
    after_seq: int = ...,
    options: FollowOptions | None = ...,
) -> Awaitable[list[LogEntry]]: ...


@overload
def execution_logs(
    client: Requester,
    execution_id: str,
    *,
    level: str | None = ...,
    step_id: str | None = ...,
    since: SinceLike | None = ...,
    follow: Literal[True],
    after_seq: int = ...,
    options: FollowOptions | None = ...,
) -> LogStream: ...


def execution_logs(
    client: Requester,
    execution_id: str,
    *,
    level: str | None = None,
    step_id: str | None = None,
    since: SinceLike | None = None,
    follow: bool = False,
    after_seq: int = 0,
    options: FollowOptions | None = None,
) -> Awaitable[list[LogEntry]] | LogStream:
    """An execution's log lines: awaitable list (REST) or, with `follow=True`, a live `LogStream`.

    `level` is a minimum level; `since` is `30s`/`5m`/`2h`/`1d`, an ISO time, a datetime or a
    timedelta (a follower pins a relative `since` to an instant once, so resuming never moves it).
    Raises ValidationError for a bad filter before anything is sent; NotFoundError for an unknown
    execution (when awaited, or when the stream connects).
    """
    if after_seq < 0:
        raise ValidationError(f"after_seq must be >= 0, got {after_seq}")
    if not execution_id:
        raise ValidationError("execution_id must not be empty")
    query = build_query(level=level, step_id=step_id, since=since, absolute_since=follow)
    if follow:
        return LogStream(
            stream_url(client.base_url, execution_id),
            headers=websocket_headers(client.api_key),
            query=query,
            after_seq=after_seq,
            options=options,
            proxy=client.websocket_proxy,
        )
    path = f"/budpipeline/executions/{quote(execution_id, safe='')}/logs"

    async def get_page(page_query: dict[str, str]) -> Any:
        return await client.request("GET", path, params=list(page_query.items()))

    return fetch_logs(get_page, {**query, "after_seq": str(after_seq)})
