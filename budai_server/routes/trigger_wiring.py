"""Wiring of schedules, webhook triggers and event triggers into the app, and their shared helpers.

`install(app)` (called by the first trigger route setup) registers the ``triggers`` store
migrations, the event-trigger terminal listener on the scheduler, and the schedule loop, which
starts after the scheduler admits executions (an ``on_startup`` hook runs after every cleanup
context has started) and stops before it (``on_shutdown``). ``app[CLOCK]`` is the clock both the
loop and the webhook timestamp check read; tests put a `FakeClock` there before starting the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from budai_async._convert import format_datetime
from budai_async.pipeline.parameters import resolve_params
from budai_server.appkeys import SCHEDULER, STORE
from budai_server.routes.definitions import CHECKER, DefinitionChecker
from budai_server.routes.parse import MISSING, Fields, QueryFields
from budai_server.scheduler import Scheduler
from budai_server.store.database import Store
from budai_server.triggers.clock import CLOCK, Clock, SystemClock
from budai_server.triggers.events import EventTriggers
from budai_server.triggers.firing import ScheduleLoop
from budai_server.triggers.launch import Prepare, TriggerError
from budai_server.triggers.schema import TRIGGERS_COMPONENT, TRIGGERS_MIGRATIONS
from budai_server.triggers.webhook_store import WebhookStore

__all__ = ["EVENTS", "LOOP", "clock_of", "install", "loop_of", "paged", "paging", "time_text"]

LOOP: web.AppKey[ScheduleLoop] = web.AppKey("budai_schedule_loop", ScheduleLoop)
EVENTS: web.AppKey[EventTriggers] = web.AppKey("budai_event_triggers", EventTriggers)
MAX_PER_PAGE = 200
MESSAGE_MEMORY = timedelta(days=1)

logger = logging.getLogger(__name__)


def make_prepare(checker: DefinitionChecker) -> Prepare:
    """Params check for triggered runs: the definition must be valid and the params fit it."""

    def prepare(definition: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        _result, parsed = checker.validate(definition)
        if parsed is None:
            raise TriggerError("invalid_definition: the pipeline's definition no longer validates")
        merged, issues = resolve_params(parsed, params)
        if issues:
            raise TriggerError("invalid_params: " + "; ".join(f"{i.path}: {i.message}" for i in issues))
        return merged

    return prepare


def install(app: web.Application) -> None:
    """Register migrations, the event listener and the schedule loop (idempotent per app)."""
    if LOOP in app:
        return
    store: Store = app[STORE]
    scheduler: Scheduler = app[SCHEDULER]
    store.register_migrations(TRIGGERS_COMPONENT, TRIGGERS_MIGRATIONS)
    app[CLOCK] = SystemClock()
    prepare = make_prepare(app[CHECKER])
    loop = ScheduleLoop(store, scheduler, prepare, lambda: app[CLOCK])
    events = EventTriggers(store, scheduler, prepare, lambda: app[CLOCK].now())
    app[LOOP] = loop
    app[EVENTS] = events
    scheduler.add_terminal_listener(events.on_terminal)

    purger: list[asyncio.Task[None]] = []

    async def start(_app: web.Application) -> None:
        loop.start()
        purger.append(
            asyncio.create_task(_purge_messages(WebhookStore(store), app), name="budai-webhook-purge")
        )

    async def stop(_app: web.Application) -> None:
        await loop.stop()
        for task in purger:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.on_startup.append(start)
    app.on_shutdown.append(stop)


async def _purge_messages(webhooks: WebhookStore, app: web.Application) -> None:
    """Hourly, forget webhook message ids older than `MESSAGE_MEMORY`: such a message fails the
    300 s timestamp check anyway, so its id is no longer needed to refuse a replay."""
    while True:
        try:
            await webhooks.purge_messages(app[CLOCK].now() - MESSAGE_MEMORY)
        except sqlite3.Error:
            logger.exception("purging webhook message ids failed")
        await asyncio.sleep(3600)


def loop_of(request: web.Request) -> ScheduleLoop:
    return request.app[LOOP]


def clock_of(request: web.Request) -> Clock:
    return request.app[CLOCK]


def time_text(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


def paging(query: QueryFields) -> tuple[int, int]:
    """``limit``/``offset`` or the official SDK's ``page``/``per_page``; returns (limit, offset)."""
    per_page = query.integer("per_page", default=20, minimum=1, maximum=MAX_PER_PAGE)
    page = query.integer("page", default=1, minimum=1, maximum=1_000_000)
    limit = query.integer("limit", default=per_page, minimum=1, maximum=MAX_PER_PAGE)
    default_offset = (page - 1) * limit
    offset = query.integer("offset", default=default_offset, minimum=0, maximum=10_000_000)
    return limit, offset


def paged(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    """Our page shape plus the page/per_page numbers the official SDK's callers know."""
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "page": offset // limit + 1,
        "per_page": limit,
    }


def pipeline_ref(fields: Fields) -> Any:
    """The target pipeline: ``pipeline_id`` (official SDK) or ``workflow_id`` (pipeline service),
    exactly one of them; MISSING (with the fault recorded) otherwise."""
    given = [name for name in ("pipeline_id", "workflow_id") if fields.has(name)]
    if len(given) > 1:
        fields.fail("workflow_id", "send pipeline_id or workflow_id, not both", "conflict")
        return MISSING
    if not given:
        fields.fail("pipeline_id", "field is required (or workflow_id)", "required")
        return MISSING
    return fields.string(given[0], max_length=200)
