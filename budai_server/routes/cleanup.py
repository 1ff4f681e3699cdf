"""Deleting executions: one by id, many by filter, and the `--retention-days` purge on a timer.

``DELETE /budpipeline/executions/{id}`` -> 204 (404 unknown, 409 while pending or running).
``POST /budpipeline/executions/delete {pipeline_id?, status?, tags?, created_after?, created_before?,
dry_run?}`` -> ``{"deleted": n, "dry_run": false}``: the ended executions matching every filter given
(at least one is required, so an empty request cannot wipe the history; `dry_run` only counts).
Logs, callback deliveries and their attempts go with each execution (`budai_server.store.cleanup`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from aiohttp import web

from budai_server.appkeys import CONFIG, LOGBUS, OUTBOX, STORE
from budai_server.routes.context import store_of
from budai_server.routes.errors import ApiError, json_response
from budai_server.routes.parse import Fields, read_json_object
from budai_server.store.cleanup import ENDED_STATUSES, CleanupFilter, count_executions, delete_executions
from budai_server.store.database import Store, db_time

__all__ = ["FILTERS", "FIXED_EXECUTION_PATHS", "purge_expired", "retention_cutoff", "setup"]

FIXED_EXECUTION_PATHS = "(?!(?:wait|watch|delete)$)"
"""Path words under /budpipeline/executions/ that are routes, never execution ids."""

logger = logging.getLogger(__name__)

FILTERS = ("pipeline_id", "status", "tags", "created_after", "created_before")
"""Filters of the bulk delete; at least one must be given."""


async def _delete(app: web.Application, cleanup: CleanupFilter) -> int:
    """Commit buffered log lines, then delete (so no line of a deleted execution lands later); keep
    the outbox's pending gauge true, since undelivered callbacks may have gone too."""
    bus = app.get(LOGBUS)
    if bus is not None:
        await bus.flush()
    removed = await delete_executions(cast(Store, app[STORE]), cleanup)
    outbox = app.get(OUTBOX)
    if removed and outbox is not None:
        outbox.metrics.pending = (await outbox.records.count_by_status()).get("pending", 0)
    return removed


async def delete_execution(request: web.Request) -> web.Response:
    """DELETE /budpipeline/executions/{id} -> 204; 409 while it has not ended."""
    execution_id = request.match_info["execution_id"]
    execution = await store_of(request).get_execution(execution_id)
    if execution is None:
        raise ApiError.not_found("execution", execution_id)
    if not execution.is_terminal:
        raise ApiError(
            409,
            f"execution {execution_id!r} is still {execution.status}; cancel it or wait for it to end first",
            code="execution_not_finished",
            details={"id": execution_id, "status": str(execution.status)},
        )
    if not await _delete(request.app, CleanupFilter(ids=(execution_id,))):
        raise ApiError.not_found("execution", execution_id)  # deleted meanwhile by another request
    return web.Response(status=204)


def _instant(fields: Fields, name: str) -> str | None:
    """A date (midnight UTC) or an ISO-8601 datetime (naive means UTC), in the store's time text."""
    raw = fields.string(name)
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(text)
        return db_time(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    except (ValueError, OverflowError):  # overflow: year 1 with an offset east of UTC
        fields.fail(name, f"must be a date (YYYY-MM-DD) or an ISO-8601 datetime, got {raw!r}", "type")
        return None


def _statuses(fields: Fields) -> tuple[str, ...]:
    if not fields.has("status"):
        return ()
    value = fields.data["status"]
    listed = [value] if isinstance(value, str) else value
    if not isinstance(listed, list) or not listed:
        fields.fail("status", "must be a status or a non-empty array of statuses", "type")
        return ()
    found: list[str] = []
    for index, status in enumerate(listed):
        if not isinstance(status, str) or status.lower() not in ENDED_STATUSES:
            path = "status" if isinstance(value, str) else f"status[{index}]"
            fields.fail(
                path,
                f"only ended executions can be deleted: must be one of {', '.join(ENDED_STATUSES)}",
                "enum",
            )
        elif status.lower() not in found:
            found.append(status.lower())
    return tuple(found)


def parse_cleanup_request(body: dict[str, Any]) -> tuple[CleanupFilter, bool]:
    """The bulk delete's filters and its dry_run flag; 422 naming each bad field."""
    fields = Fields(body, allowed=(*FILTERS, "dry_run"))
    pipeline_id = fields.string("pipeline_id", max_length=200)
    statuses = _statuses(fields)
    tags = fields.tags()
    if "tags" in body and body["tags"] in (None, []):
        fields.fail("tags", "must be a non-empty array of tags", "type")
    created_after = _instant(fields, "created_after")
    created_before = _instant(fields, "created_before")
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        fields.fail("dry_run", "must be a boolean", "type")
    if not any(name in body for name in FILTERS):
        fields.fail(
            "",
            f"give at least one filter ({', '.join(FILTERS)}); to delete every ended execution, "
            "send created_before with a time in the future",
            "required",
        )
    fields.check()
    cleanup = CleanupFilter(
        pipeline_id=pipeline_id if isinstance(pipeline_id, str) else None,
        statuses=statuses,
        tags=tuple(tags) if isinstance(tags, list) else (),
        created_after=created_after,
        created_before=created_before,
    )
    return cleanup, dry_run


async def delete_executions_route(request: web.Request) -> web.Response:
    """POST /budpipeline/executions/delete {filters, dry_run?} -> {deleted, dry_run}."""
    cleanup, dry_run = parse_cleanup_request(await read_json_object(request))
    if dry_run:
        count = await count_executions(store_of(request), cleanup)
    else:
        count = await _delete(request.app, cleanup)
    return json_response({"deleted": count, "dry_run": dry_run})


# ---------------------------------------------------------------- retention


def retention_cutoff(now: datetime, days: float) -> datetime:
    """Executions that ended before this instant are past their retention."""
    return now - timedelta(days=days)


async def purge_expired(app: web.Application, now: datetime | None = None) -> int:
    """Delete ended executions older than the configured retention; the count (0 when none is set)."""
    days = app[CONFIG].retention_days
    if days is None:
        return 0
    cutoff = retention_cutoff(now or datetime.now(UTC), days)
    removed = await _delete(app, CleanupFilter(completed_before=db_time(cutoff)))
    if removed:
        logger.info("retention: deleted %d execution(s) that ended more than %g day(s) ago", removed, days)
    return removed


async def _purge_forever(app: web.Application, interval: float) -> None:
    while True:
        try:
            await purge_expired(app)
        except sqlite3.Error:
            logger.exception("retention purge failed; trying again at the next interval")
        await asyncio.sleep(interval)


async def _retention_ctx(app: web.Application) -> AsyncIterator[None]:
    """Purge at start and then every `retention_interval_seconds` while the server runs."""
    config = app[CONFIG]
    task = None
    if config.retention_days is not None:
        task = asyncio.create_task(
            _purge_forever(app, config.retention_interval_seconds), name="budai-retention-purge"
        )
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def setup(app: web.Application) -> None:
    app.router.add_post("/budpipeline/executions/delete", delete_executions_route)
    app.router.add_delete(
        f"/budpipeline/executions/{{execution_id:{FIXED_EXECUTION_PATHS}[^{{}}/]+}}", delete_execution
    )
    app.cleanup_ctx.append(_retention_ctx)
