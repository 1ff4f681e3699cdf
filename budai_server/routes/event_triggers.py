"""Event trigger routes under ``/event-triggers`` (the official SDK's path): create, list, get,
update (PATCH or PUT, partial), delete.

A trigger starts `pipeline_id` when an execution ends with `event_type` (one of
`EVENT_TYPES`) and matches `filter` (``{pipeline_id?, tags?}``); `max_chain_depth` and
`allow_cycles` bound chains (see `budai_server.triggers.events`). ``GET /event-triggers/{id}/firings``
lists what the trigger did for each source execution, refusals included.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs
from aiohttp import web

from budai_server.routes.context import store_of
from budai_server.routes.errors import ApiError, json_response
from budai_server.routes.executions import PRIORITIES
from budai_server.routes.parse import MAX_NAME_LENGTH, MISSING, Fields, QueryFields, read_json_object
from budai_server.routes.schedule_fields import read_bool
from budai_server.routes.trigger_wiring import (
    EVENTS,
    clock_of,
    install,
    paged,
    paging,
    pipeline_ref,
    time_text,
)
from budai_server.triggers.event_store import EventTriggerRecord, EventTriggerStore
from budai_server.triggers.events import DEFAULT_MAX_CHAIN_DEPTH, EVENT_TYPES, MAX_CHAIN_DEPTH

__all__ = ["event_trigger_view", "setup"]

_FIELDS = frozenset(
    {
        "name",
        "description",
        "event_type",
        "filter",
        "params",
        "priority",
        "tags",
        "is_active",
        "max_chain_depth",
        "allow_cycles",
    }
)


def event_trigger_view(record: EventTriggerRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "pipeline_id": record.pipeline_id,
        "workflow_id": record.pipeline_id,
        "name": record.name,
        "description": record.description,
        "event_type": record.event_type,
        "filter": record.filter,
        "params": record.params,
        "priority": record.priority,
        "tags": record.tags,
        "is_active": record.is_active,
        "max_chain_depth": record.max_chain_depth,
        "allow_cycles": record.allow_cycles,
        "fire_count": record.fire_count,
        "last_fired_at": time_text(record.last_fired_at),
        "created_at": time_text(record.created_at),
        "updated_at": time_text(record.updated_at),
    }


def _store(request: web.Request) -> EventTriggerStore:
    return request.app[EVENTS].triggers


def _filter(fields: Fields) -> Any:
    value = fields.obj("filter", nullable=True)
    if not isinstance(value, dict):
        return value
    sub = Fields(value, allowed=("pipeline_id", "tags"), prefix=fields.path("filter"))
    source = sub.string("pipeline_id", nullable=True, max_length=200)
    tags = sub.tags()
    fields.issues.extend(sub.issues)
    if sub.issues:
        return MISSING
    found: dict[str, Any] = {}
    if isinstance(source, str):
        found["pipeline_id"] = source
    if isinstance(tags, list) and tags:
        found["tags"] = tags
    return found


def _depth(fields: Fields) -> Any:
    value = fields._typed("max_chain_depth", (int, float), "an integer", False, False)
    if isinstance(value, float):
        if not value.is_integer():
            fields.fail("max_chain_depth", "must be an integer", "type")
            return MISSING
        value = int(value)
    if isinstance(value, int) and not 1 <= value <= MAX_CHAIN_DEPTH:
        fields.fail("max_chain_depth", f"must be between 1 and {MAX_CHAIN_DEPTH}", "range")
        return MISSING
    return value


def _read(fields: Fields, *, creating: bool) -> dict[str, Any]:
    """The sent fields, checked (faults collect in `fields`); absent fields are left out."""
    values = {
        "name": fields.string("name", required=creating, max_length=MAX_NAME_LENGTH),
        "description": fields.string("description", nullable=True, non_empty=False, max_length=2000),
        "event_type": fields.choice("event_type", EVENT_TYPES, str),
        "filter": _filter(fields),
        "params": fields.obj("params", nullable=True),
        "priority": fields.choice("priority", PRIORITIES, str),
        "tags": fields.tags(),
        "max_chain_depth": _depth(fields),
    }
    for flag in ("is_active", "allow_cycles"):
        flag_value = read_bool(fields, flag)
        values[flag] = MISSING if flag_value is None else flag_value
    if creating and not fields.has("event_type"):
        fields.fail("event_type", f"field is required; one of: {', '.join(EVENT_TYPES)}", "required")
    return {k: (v if v is not None else _EMPTY[k]) for k, v in values.items() if v is not MISSING}


_EMPTY: dict[str, Any] = {"description": "", "filter": {}, "params": {}, "tags": []}


async def _load(request: web.Request) -> EventTriggerRecord:
    trigger_id = request.match_info["trigger_id"]
    record = await _store(request).get(trigger_id)
    if record is None:
        raise ApiError.not_found("event trigger", trigger_id)
    return record


async def create_trigger(request: web.Request) -> web.Response:
    fields = Fields(await read_json_object(request), allowed=_FIELDS | {"pipeline_id", "workflow_id"})
    pipeline_id = pipeline_ref(fields)
    values = _read(fields, creating=True)
    fields.check()
    if await store_of(request).get_pipeline(pipeline_id) is None:
        raise ApiError.not_found("pipeline", pipeline_id)
    now = clock_of(request).now()
    record = EventTriggerRecord(
        id=f"evtr_{uuid.uuid4().hex}",
        pipeline_id=pipeline_id,
        max_chain_depth=values.pop("max_chain_depth", DEFAULT_MAX_CHAIN_DEPTH),
        created_at=now,
        updated_at=now,
        **values,
    )
    await _store(request).insert(record)
    return json_response(event_trigger_view(record), status=201)


async def list_triggers(request: web.Request) -> web.Response:
    query = QueryFields(request.query)
    pipeline_id = query.string("pipeline_id") or query.string("workflow_id")
    event_type = query.string("event_type")
    if event_type is not None and event_type not in EVENT_TYPES:
        query.fail("event_type", f"must be one of: {', '.join(EVENT_TYPES)}", "enum")
    limit, offset = paging(query)
    query.check()
    items, total = await _store(request).list(
        pipeline_id=pipeline_id, event_type=event_type, limit=limit, offset=offset
    )
    return json_response(paged([event_trigger_view(r) for r in items], total, limit, offset))


async def get_trigger(request: web.Request) -> web.Response:
    return json_response(event_trigger_view(await _load(request)))


async def update_trigger(request: web.Request) -> web.Response:
    record = await _load(request)
    fields = Fields(await read_json_object(request), allowed=_FIELDS)
    values = _read(fields, creating=False)
    fields.check()
    updated = attrs.evolve(record, updated_at=clock_of(request).now(), **values)
    if not await _store(request).replace(updated):
        raise ApiError.not_found("event trigger", record.id)
    return json_response(event_trigger_view(updated))


async def delete_trigger(request: web.Request) -> web.Response:
    record = await _load(request)
    await _store(request).delete(record.id)
    return web.Response(status=204)


async def list_firings(request: web.Request) -> web.Response:
    record = await _load(request)
    items = await _store(request).firings(record.id)
    return json_response({"items": items, "total": len(items)})


def setup(app: web.Application) -> None:
    install(app)
    base = "/event-triggers"
    app.router.add_post(base, create_trigger)
    app.router.add_get(base, list_triggers)
    app.router.add_get(base + "/{trigger_id}", get_trigger)
    app.router.add_patch(base + "/{trigger_id}", update_trigger)
    app.router.add_put(base + "/{trigger_id}", update_trigger)
    app.router.add_delete(base + "/{trigger_id}", delete_trigger)
    app.router.add_get(base + "/{trigger_id}/firings", list_firings)
