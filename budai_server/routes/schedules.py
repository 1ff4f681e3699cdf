"""Schedule routes under ``/budpipeline/schedules``: create, list, get, update, delete, pause,
resume, trigger, next-runs, runs.

Create accepts both wire shapes: the pipeline service's ``{workflow_id, name, schedule: {type,
expression, timezone, run_at}, params, enabled}`` and the official SDK's ``{pipeline_id, name,
cron, timezone, params}``; answers carry the fields of both (`schedule_view`). Semantics (catch-up,
overlap, DST) are in `budai_server.triggers` and docs/schedules.md.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs
from aiohttp import web

from budai_async._convert import to_json_dict
from budai_async.models import Execution
from budai_server.routes.context import config_of, store_of
from budai_server.routes.errors import ApiError, json_response
from budai_server.routes.parse import Fields, QueryFields, read_empty_body, read_json_object
from budai_server.routes.schedule_fields import SPEC_FIELDS, ScheduleInput, parse_schedule_input
from budai_server.routes.trigger_wiring import clock_of, install, loop_of, paged, paging, time_text
from budai_server.triggers.catchup import DEFAULT_CATCHUP_WINDOW_SECONDS
from budai_server.triggers.schedule_store import ScheduleRecord, ScheduleStore
from budai_server.triggers.timing import SpecError, make_spec, next_after, upcoming

__all__ = ["schedule_view", "setup", "started_view"]

STATUSES = ("active", "paused", "disabled")
MAX_NEXT_RUNS = 100


def schedule_view(record: ScheduleRecord) -> dict[str, Any]:
    """One schedule in a shape the pipeline service's and the official SDK's clients both read."""
    return {
        "id": record.id,
        "pipeline_id": record.pipeline_id,
        "workflow_id": record.pipeline_id,
        "name": record.name,
        "description": record.description,
        "cron": record.expression,
        "timezone": record.timezone,
        "schedule": {
            "type": record.type,
            "expression": record.expression,
            "timezone": record.timezone,
            "run_at": time_text(record.run_at),
        },
        "status": record.status,
        "enabled": record.status == "active",
        "params": record.params,
        "priority": record.priority,
        "tags": record.tags,
        "callbacks": record.callbacks,
        "timeout_seconds": record.timeout_seconds,
        "catchup": record.catchup,
        "catchup_window_seconds": record.catchup_window_seconds,
        "overlap": record.overlap,
        "next_run_at": time_text(record.next_run_at) if record.status == "active" else None,
        "last_run_at": time_text(record.last_run_at),
        "last_execution_id": record.last_execution_id,
        "run_count": record.run_count,
        "skipped_count": record.skipped_count,
        "created_at": time_text(record.created_at),
        "updated_at": time_text(record.updated_at),
    }


def started_view(execution: Execution) -> dict[str, Any]:
    """A just-started execution in a shape our SDK and the official one both parse: the execution's
    wire (steps as the gateway's list, progress as the official object, docs/compatibility.md) plus
    the gateway's ``execution_id``."""
    view: dict[str, Any] = to_json_dict(execution)
    view["execution_id"] = execution.id
    return view


def _schedules(request: web.Request) -> ScheduleStore:
    return loop_of(request).schedules


async def _load(request: web.Request) -> ScheduleRecord:
    schedule_id = request.match_info["schedule_id"]
    record = await _schedules(request).get(schedule_id)
    if record is None:
        raise ApiError.not_found("schedule", schedule_id)
    return record


def _spec_error(exc: SpecError, prefix: str) -> ApiError:
    path = f"{prefix}.{exc.field}" if prefix else exc.field
    return ApiError(
        422,
        f"invalid schedule: {path}: {exc.message}",
        code="invalid_schedule",
        details=[{"path": path, "message": exc.message, "code": "invalid"}],
    )


async def create_schedule(request: web.Request) -> web.Response:
    fields = Fields(await read_json_object(request), allowed=SPEC_FIELDS | {"workflow_id", "pipeline_id"})
    data = parse_schedule_input(fields, creating=True, policy=config_of(request).outbound_policy())
    fields.check()
    assert data.pipeline_id is not None and data.name is not None
    if await store_of(request).get_pipeline(data.pipeline_id) is None:
        raise ApiError.not_found("pipeline", data.pipeline_id)
    now = clock_of(request).now()
    try:
        spec = make_spec(
            data.type or "cron",
            data.expression,
            timezone=data.timezone or "UTC",
            run_at=data.run_at,
            anchor=now,
        )
    except SpecError as exc:
        raise _spec_error(exc, data.spec_prefix) from exc
    status = "active" if data.enabled is not False else "paused"
    nxt = next_after(spec, now)
    record = ScheduleRecord(
        id=f"sched_{uuid.uuid4().hex}",
        pipeline_id=data.pipeline_id,
        name=data.name,
        description=data.description or "",
        type=spec.type,
        expression=spec.expression,
        timezone=spec.timezone,
        run_at=spec.run_at,
        params=data.params or {},
        priority=data.priority or "normal",
        tags=data.tags or [],
        callbacks=data.callbacks or {},
        timeout_seconds=data.timeout_seconds,
        status=status if nxt is not None else "disabled",
        catchup=data.catchup or "latest",
        catchup_window_seconds=data.catchup_window_seconds or DEFAULT_CATCHUP_WINDOW_SECONDS,
        overlap=data.overlap or "skip",
        anchor_at=now,
        cursor_at=now,
        next_run_at=nxt,
        created_at=now,
        updated_at=now,
    )
    await _schedules(request).insert(record)
    loop_of(request).wake()
    return json_response(schedule_view(record), status=201)


async def list_schedules(request: web.Request) -> web.Response:
    query = QueryFields(request.query)
    pipeline_id = query.string("pipeline_id") or query.string("workflow_id")
    status = query.string("status")
    if status is not None and status.lower() not in STATUSES:
        query.fail("status", f"must be one of: {', '.join(STATUSES)}", "enum")
    limit, offset = paging(query)
    query.check()
    items, total = await _schedules(request).list(
        pipeline_id=pipeline_id, status=status.lower() if status else None, limit=limit, offset=offset
    )
    return json_response(paged([schedule_view(r) for r in items], total, limit, offset))


async def get_schedule(request: web.Request) -> web.Response:
    return json_response(schedule_view(await _load(request)))


def _updated(record: ScheduleRecord, data: ScheduleInput, now: Any) -> ScheduleRecord:
    changes: dict[str, Any] = {"updated_at": now}
    for name in ("name", "description", "params", "priority", "tags", "callbacks", "catchup", "overlap"):
        value = getattr(data, name)
        if value is not None:
            changes[name] = value
    if data.timeout_sent:
        changes["timeout_seconds"] = data.timeout_seconds
    if data.catchup_window_seconds is not None:
        changes["catchup_window_seconds"] = data.catchup_window_seconds
    spec_changed = data.expression is not None or data.type is not None or data.run_at is not None
    if spec_changed or data.timezone is not None:
        try:
            spec = make_spec(
                data.type or (record.type if data.expression is None else "cron"),
                data.expression if data.expression is not None else record.expression,
                timezone=data.timezone or record.timezone,
                run_at=data.run_at or record.run_at,
                anchor=now if spec_changed else record.anchor_at,
            )
        except SpecError as exc:
            raise _spec_error(exc, data.spec_prefix) from exc
        changes.update(
            type=spec.type,
            expression=spec.expression,
            timezone=spec.timezone,
            run_at=spec.run_at,
            anchor_at=spec.anchor,
            cursor_at=max(record.cursor_at, now),
        )
    status = record.status
    if data.enabled is True and status != "active":
        status, changes["cursor_at"] = "active", now
    elif data.enabled is False:
        status = "paused"
    updated = ScheduleRecord(**{**_as_dict(record), **changes, "status": status})
    nxt = next_after(updated.spec(), updated.cursor_at)
    if nxt is None and status == "active":
        status = "disabled"
    return ScheduleRecord(**{**_as_dict(updated), "next_run_at": nxt, "status": status})


def _as_dict(record: ScheduleRecord) -> dict[str, Any]:
    return attrs.asdict(record, recurse=False)


async def update_schedule(request: web.Request) -> web.Response:
    record = await _load(request)
    fields = Fields(await read_json_object(request), allowed=SPEC_FIELDS)
    data = parse_schedule_input(fields, creating=False, policy=config_of(request).outbound_policy())
    fields.check()
    updated = _updated(record, data, clock_of(request).now())
    if not await _schedules(request).replace(updated):
        raise ApiError.not_found("schedule", record.id)
    loop_of(request).wake()
    return json_response(schedule_view(updated))


async def delete_schedule(request: web.Request) -> web.Response:
    record = await _load(request)
    await _schedules(request).delete(record.id)
    return web.Response(status=204)


async def _set_enabled(request: web.Request, enabled: bool) -> web.Response:
    record = await _load(request)
    await read_empty_body(request)
    updated = _updated(record, ScheduleInput(enabled=enabled), clock_of(request).now())
    await _schedules(request).replace(updated)
    loop_of(request).wake()
    return json_response(schedule_view(updated))


async def pause_schedule(request: web.Request) -> web.Response:
    return await _set_enabled(request, False)


async def resume_schedule(request: web.Request) -> web.Response:
    return await _set_enabled(request, True)


async def trigger_schedule(request: web.Request) -> web.Response:
    """Run the schedule now (a manual run: counted, but outside catch-up and overlap rules)."""
    record = await _load(request)
    await read_empty_body(request)
    outcome = await loop_of(request).trigger_now(record, clock_of(request).now())
    if outcome.launched:
        return json_response(started_view(outcome.launched[0].execution), status=201)
    reason = outcome.runs[0].reason if outcome.runs else "not_started"
    if reason == "pipeline_not_found":
        raise ApiError.not_found("pipeline", record.pipeline_id)
    raise ApiError(422, f"the schedule could not start its pipeline: {reason}", code="trigger_failed")


async def next_runs(request: web.Request) -> web.Response:
    record = await _load(request)
    query = QueryFields(request.query)
    count = query.integer("count", default=5, minimum=1, maximum=MAX_NEXT_RUNS)
    query.check()
    times: list[Any] = []
    if record.status == "active":
        after = max(record.cursor_at, clock_of(request).now())
        times = [time_text(t) for t in upcoming(record.spec(), after, count)]
    return json_response({"schedule_id": record.id, "timezone": record.timezone, "next_runs": times})


async def list_runs(request: web.Request) -> web.Response:
    record = await _load(request)
    query = QueryFields(request.query)
    limit = query.integer("limit", default=50, minimum=1, maximum=500)
    query.check()
    runs = await _schedules(request).runs(record.id, limit=limit)
    items = [
        {
            "run_at": time_text(run.run_at),
            "kind": run.kind,
            "status": run.status,
            "reason": run.reason,
            "execution_id": run.execution_id,
            "recorded_at": time_text(run.recorded_at),
        }
        for run in runs
    ]
    return json_response({"items": items, "total": len(items)})


def setup(app: web.Application) -> None:
    install(app)
    base = "/budpipeline/schedules"
    app.router.add_post(base, create_schedule)
    app.router.add_get(base, list_schedules)
    app.router.add_get(base + "/{schedule_id}", get_schedule)
    app.router.add_patch(base + "/{schedule_id}", update_schedule)
    app.router.add_put(base + "/{schedule_id}", update_schedule)
    app.router.add_delete(base + "/{schedule_id}", delete_schedule)
    app.router.add_post(base + "/{schedule_id}/pause", pause_schedule)
    app.router.add_post(base + "/{schedule_id}/resume", resume_schedule)
    app.router.add_post(base + "/{schedule_id}/trigger", trigger_schedule)
    app.router.add_get(base + "/{schedule_id}/next-runs", next_runs)
    app.router.add_get(base + "/{schedule_id}/runs", list_runs)
