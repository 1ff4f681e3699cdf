"""Execution routes: execute, ephemeral run, list, get (long-poll), progress, steps, events, cancel, retry.

Every new execution stores a snapshot of the definition it runs, so a retry works the same after
its pipeline was edited or deleted. Retry semantics: `params` sent are merged over the original
params, a key sent as null removes it (`budai_server.retry_params`); every other option not sent is
copied from the original.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
from aiohttp import web

from budai_async._convert import to_json_dict
from budai_async.models import Execution, ExecutionStatus, Priority
from budai_async.pipeline.definition import MAX_TIMEOUT_SECONDS
from budai_server.gateway_views import execution_events, execution_steps, progress_summary
from budai_server.listing import SORT_FIELDS, ExecutionQuery, decode_cursor
from budai_server.outbound.policy import OutboundPolicy
from budai_server.progress import progress_view
from budai_server.retry_params import merge_retry_params
from budai_server.routes.context import checker_of, config_of, scheduler_of, store_of
from budai_server.routes.errors import ApiError, json_response
from budai_server.routes.gateway_fields import ORIGIN_FIELDS, page_window, parse_origin
from budai_server.routes.middleware import idempotency_record
from budai_server.routes.parse import (
    MISSING,
    Fields,
    QueryFields,
    over_limit,
    read_empty_body,
    read_json_object,
)
from budai_server.routes.pipelines import DEFINITION_ALIASES, MAX_PAGE, definition_field
from budai_server.scheduler import (
    ExecutionAlreadyFinished,
    ExecutionNotFound,
    ExecutionRequest,
    SchedulerStopped,
)
from budai_server.store.database import db_time

__all__ = ["RUN_OPTION_FIELDS", "RunOptions", "setup", "submit"]

RUN_OPTION_FIELDS = frozenset({"params", "priority", "callbacks", "tags", "timeout_seconds", *ORIGIN_FIELDS})
RUN_DEFINITION_ALIASES = ("pipeline_definition", *DEFINITION_ALIASES)
EXECUTION_STATUSES = tuple(str(status) for status in ExecutionStatus)
PRIORITIES = tuple(str(priority) for priority in Priority)
STATUS_ALIASES = {"timed_out": "timeout"}  # the official SDK's name for our `timeout`


@attrs.frozen(kw_only=True)
class RunOptions:
    """The options of one execution request; None means "not sent"."""

    params: dict[str, Any] | None = None
    priority: Priority | None = None
    callbacks: dict[str, str] | None = None
    tags: list[str] | None = None
    timeout_seconds: float | None = None
    timeout_sent: bool = False
    origin: dict[str, Any] = attrs.field(factory=dict)


def parse_run_options(fields: Fields, policy: OutboundPolicy | None = None) -> RunOptions:
    """Read `params, priority, callbacks, tags, timeout_seconds` (faults collect in `fields`);
    callback URLs that `policy` refuses without DNS are faults too."""
    params = fields.obj("params", nullable=True)
    priority = fields.choice("priority", PRIORITIES, Priority)
    callbacks = fields.callbacks(policy=policy)
    tags = fields.tags()
    timeout = fields.number("timeout_seconds", exclusive_minimum=0, maximum=MAX_TIMEOUT_SECONDS)

    def given(value: Any) -> Any:
        return None if value is MISSING else value

    return RunOptions(
        params=given(params),
        priority=given(priority),
        callbacks=given(callbacks),
        tags=given(tags),
        timeout_seconds=given(timeout),
        timeout_sent=fields.has("timeout_seconds") and timeout is not MISSING,
        origin=parse_origin(fields),
    )


async def submit(request: web.Request, run: ExecutionRequest) -> web.Response:
    """Queue an execution (idempotency key stored atomically) and answer 201 with it."""
    record = idempotency_record(request, 201)
    try:
        execution = await scheduler_of(request).submit(
            run, (lambda created: record(to_json_dict(created))) if record is not None else None
        )
    except SchedulerStopped as exc:
        raise ApiError(503, str(exc), headers={"Retry-After": "1"}) from exc
    return json_response(to_json_dict(execution), status=201)


def _request(
    request: web.Request, definition: Mapping[str, Any], field: str, options: RunOptions, **extra: Any
) -> ExecutionRequest:
    checker = checker_of(request)
    parsed = checker.require_valid(definition, field)
    params = checker.resolve_params(parsed, options.params or {})
    return ExecutionRequest(
        definition=definition,
        params=params,
        priority=options.priority or Priority.NORMAL,
        tags=options.tags or [],
        callbacks=options.callbacks or {},
        timeout_seconds=options.timeout_seconds,
        origin=options.origin,
        **extra,
    )


async def execute_pipeline(request: web.Request) -> web.Response:
    """POST /budpipeline/{pipeline_id}/execute -> 201 pending execution."""
    pipeline_id = request.match_info["pipeline_id"]
    fields = Fields(await read_json_object(request, optional=True), allowed=RUN_OPTION_FIELDS)
    options = parse_run_options(fields, config_of(request).outbound_policy())
    fields.check()
    pipeline = await store_of(request).get_pipeline(pipeline_id)
    if pipeline is None:
        raise ApiError.not_found("pipeline", pipeline_id)
    return await submit(
        request, _request(request, pipeline.definition, "definition", options, pipeline_id=pipeline.id)
    )


async def run_ephemeral(request: web.Request) -> web.Response:
    """POST /budpipeline/run {pipeline_definition, params, ...} -> 201 execution without a pipeline."""
    fields = Fields(await read_json_object(request), allowed=RUN_OPTION_FIELDS | set(RUN_DEFINITION_ALIASES))
    field, definition = definition_field(fields, RUN_DEFINITION_ALIASES, required=True)
    options = parse_run_options(fields, config_of(request).outbound_policy())
    fields.check()
    return await submit(request, _request(request, definition, field, options))


def parse_execution_query(request: web.Request) -> ExecutionQuery:
    """The filters, sort and paging of GET /budpipeline/executions; 422 naming each bad parameter."""
    query = QueryFields(request.query)
    statuses = [STATUS_ALIASES.get(status.lower(), status) for status in query.values("status")]
    for status in statuses:
        if status.lower() not in EXECUTION_STATUSES:
            query.fail(
                "status",
                f"unknown status {status!r}; expected any of: {', '.join(EXECUTION_STATUSES)}",
                "enum",
            )
    created_after = query.timestamp("created_after")
    created_before = query.timestamp("created_before")
    sort_by = query.choice("sort_by", SORT_FIELDS, "created_at")
    sort_order = query.choice("sort_order", ("asc", "desc"), "desc")
    limit = query.integer("limit", default=20, minimum=1, maximum=MAX_PAGE)
    offset = query.integer("offset", default=0, minimum=0, maximum=2**62)
    limit, offset = page_window(query, limit, offset, maximum=MAX_PAGE)
    cursor = None
    if token := query.string("cursor"):
        try:
            cursor = decode_cursor(token)
        except ValueError as exc:
            query.fail("cursor", str(exc))
    if cursor is not None:
        if (request.query.get("sort_by") and cursor.sort_by != sort_by) or (
            request.query.get("sort_order") and cursor.sort_order != sort_order
        ):
            query.fail("cursor", "this cursor belongs to a different sort_by/sort_order")
        sort_by, sort_order = cursor.sort_by, cursor.sort_order
        if offset:
            query.fail("offset", "offset cannot be combined with cursor")
    query.check()
    return ExecutionQuery(
        pipeline_id=query.string("pipeline_id"),
        statuses=tuple(status.lower() for status in statuses),
        tags=tuple(query.values("tags")),
        created_after=db_time(created_after) if created_after else None,
        created_before=db_time(created_before) if created_before else None,
        sort_by=sort_by,
        sort_order=sort_order,
        limit=limit,
        offset=offset,
        cursor=cursor,
    )


async def list_executions(request: web.Request) -> web.Response:
    """GET /budpipeline/executions -> {items, total, limit, offset, next_cursor}."""
    query = parse_execution_query(request)
    page = await store_of(request).list_executions(query)
    return json_response(
        {
            "items": to_json_dict(page.items),
            "total": page.total,
            "limit": query.limit,
            "offset": query.offset,
            "next_cursor": page.next_cursor,
        }
    )


async def _existing(request: web.Request) -> Execution:
    execution_id = request.match_info["execution_id"]
    execution = await store_of(request).get_execution(execution_id)
    if execution is None:
        raise ApiError.not_found("execution", execution_id)
    return execution


async def get_execution(request: web.Request) -> web.Response:
    """GET /budpipeline/executions/{id}[?wait=SECONDS]: with `wait`, answer once terminal or at timeout.

    A `wait` over the server's `long_poll_max_seconds` is a 422 naming the limit (and its value, so a
    client can adapt); after the wait the answer is the current state either way (check `status`).
    """
    query = QueryFields(request.query)
    wait = query.number("wait", minimum=0)
    most = config_of(request).long_poll_max_seconds
    if wait is not None and wait > most:
        query.issues.append(over_limit("wait", wait, most, "long_poll_max_seconds"))
    query.check()
    if not wait:
        return json_response(to_json_dict(await _existing(request)))
    execution_id = request.match_info["execution_id"]
    execution = await scheduler_of(request).wait_terminal(execution_id, wait)
    if execution is None:
        raise ApiError.not_found("execution", execution_id)
    return json_response(to_json_dict(execution))


async def get_progress(request: web.Request) -> web.Response:
    """GET /budpipeline/executions/{id}/progress: steps as a list plus aggregated progress."""
    execution = await _existing(request)
    definition = await store_of(request).get_execution_definition(execution.id) or {}
    view = progress_view(execution, definition, datetime.now(UTC))
    return json_response({**view, **progress_summary(execution)})


async def get_steps(request: web.Request) -> web.Response:
    """GET /budpipeline/executions/{id}/steps -> {items: [step]} in definition order."""
    execution = await _existing(request)
    definition = await store_of(request).get_execution_definition(execution.id) or {}
    items = execution_steps(execution, definition)
    return json_response({"items": items, "total": len(items)})


async def get_events(request: web.Request) -> web.Response:
    """GET /budpipeline/executions/{id}/events[?step_id] -> {items: [event]}, oldest first."""
    query = QueryFields(request.query)
    step_id = query.string("step_id")
    query.check()
    execution = await _existing(request)
    definition = await store_of(request).get_execution_definition(execution.id) or {}
    items = execution_events(execution, definition, step_id)
    return json_response({"items": items, "total": len(items)})


async def cancel_execution(request: web.Request) -> web.Response:
    """POST /budpipeline/executions/{id}/cancel -> 200 final execution; 409 when it had ended."""
    execution_id = request.match_info["execution_id"]
    await read_empty_body(request)
    try:
        execution = await scheduler_of(request).cancel(execution_id)
    except ExecutionNotFound as exc:
        raise ApiError.not_found("execution", execution_id) from exc
    except ExecutionAlreadyFinished as exc:
        raise ApiError(
            409,
            f"execution {execution_id!r} already ended with status {exc.execution.status}",
            code="execution_finished",
            details={"id": execution_id, "status": str(exc.execution.status)},
        ) from exc
    return json_response(to_json_dict(execution))


async def retry_execution(request: web.Request) -> web.Response:
    """POST /budpipeline/executions/{id}/retry -> 201 new execution with `retry_of` set.

    Runs the original's definition snapshot; `params` sent are merged over the original params
    (the guide's "retry with a different cluster"), so only the keys that change need sending; a
    key sent as null is removed.
    """
    fields = Fields(await read_json_object(request, optional=True), allowed=RUN_OPTION_FIELDS)
    options = parse_run_options(fields, config_of(request).outbound_policy())
    fields.check()
    original = await _existing(request)
    if not original.is_terminal:
        raise ApiError(
            409,
            f"execution {original.id!r} is still {original.status}; only ended executions can be retried",
            code="execution_not_finished",
            details={"id": original.id, "status": str(original.status)},
        )
    definition = await store_of(request).get_execution_definition(original.id) or {}
    merged = RunOptions(
        params=merge_retry_params(original.params, options.params),
        priority=options.priority or original.priority,
        callbacks=original.callbacks if options.callbacks is None else options.callbacks,
        tags=original.tags if options.tags is None else options.tags,
        timeout_seconds=options.timeout_seconds if options.timeout_sent else original.timeout_seconds,
        origin={**_origin_of(original), **options.origin},
    )
    run = _request(
        request, definition, "definition", merged, pipeline_id=original.pipeline_id, retry_of=original.id
    )
    return await submit(request, run)


def _origin_of(execution: Execution) -> dict[str, Any]:
    """The gateway request fields an execution was created with (a retry keeps them)."""
    values = {key: getattr(execution, key) for key in ORIGIN_FIELDS}
    return {key: value for key, value in values.items() if value not in (None, {}, [])}


def setup(app: web.Application) -> None:
    app.router.add_post("/budpipeline/run", run_ephemeral)
    app.router.add_get("/budpipeline/executions", list_executions)
    # The pattern keeps /executions/wait and /executions/watch (routes/watch.py) out of {execution_id}.
    app.router.add_get(
        "/budpipeline/executions/{execution_id:(?!(?:wait|watch|delete)$)[^{}/]+}", get_execution
    )
    app.router.add_get("/budpipeline/executions/{execution_id}/progress", get_progress)
    app.router.add_get("/budpipeline/executions/{execution_id}/steps", get_steps)
    app.router.add_get("/budpipeline/executions/{execution_id}/events", get_events)
    app.router.add_post("/budpipeline/executions/{execution_id}/cancel", cancel_execution)
    app.router.add_post("/budpipeline/executions/{execution_id}/retry", retry_execution)
    app.router.add_post("/budpipeline/{pipeline_id}/execute", execute_pipeline)
