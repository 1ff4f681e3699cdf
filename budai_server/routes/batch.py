"""`POST /budpipeline/{pipeline_id}/execute/batch`: up to 1,000 executions in one request and one transaction.

The body is `{"items": [{params, tags, priority, callbacks, timeout_seconds, idempotency_key}], "defaults"?}`
(docs/batch.md). Each item is answered on its own, in input order: its execution (201 created, or 200
replayed for a per-item idempotency key seen before) or its error naming the field. An invalid item
fails alone; only an unusable envelope fails the request (413 over 1,000 items or too many bytes,
422 otherwise). Status subscriptions for awaiting many executions live in `routes/watch.py`, which
`setup` registers too.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from budai_async._convert import to_json_dict
from budai_async.models import Execution, Priority
from budai_server.batch_items import BatchRequest, BodyFault, ItemFault, ItemSpec, parse_batch
from budai_server.routes import watch
from budai_server.routes.context import checker_of, config_of, scheduler_of, store_of
from budai_server.routes.errors import ApiError, dump_json, json_response
from budai_server.routes.middleware import IDEMPOTENCY, idempotency_record
from budai_server.routes.parse import read_json_object
from budai_server.scheduler import ExecutionRequest, SchedulerStopped
from budai_server.store.batch_writes import BatchRow, Conflict, Outcome, insert_batch

__all__ = ["item_route", "setup"]


def item_route(pipeline_id: str) -> str:
    """The idempotency scope of per-item keys: one namespace per pipeline, apart from single creates."""
    return f"BATCH /budpipeline/{pipeline_id}/execute"


async def execute_batch(request: web.Request) -> web.Response:
    """Create many executions of one pipeline; see the module docstring for the answer's shape."""
    config = config_of(request)
    length = request.content_length
    if length is not None and length > config.max_body_bytes:
        raise _too_large(length, config.max_body_bytes)
    try:
        body = await read_json_object(request)
    except web.HTTPRequestEntityTooLarge as exc:
        raise _too_large(None, config.max_body_bytes) from exc
    parsed = parse_batch(body, policy=config.outbound_policy())
    if isinstance(parsed, BodyFault):
        raise ApiError(
            parsed.status,
            parsed.message,
            code=parsed.code,
            details=[{"path": parsed.field, "message": parsed.message, "code": parsed.code}],
        )
    pipeline_id = request.match_info["pipeline_id"]
    store = store_of(request)
    pipeline = await store.get_pipeline(pipeline_id)
    if pipeline is None:
        raise ApiError.not_found("pipeline", pipeline_id)
    scheduler = scheduler_of(request)
    if not scheduler.accepting:
        raise ApiError(503, "the server is not accepting executions", headers={"Retry-After": "1"})
    checker = checker_of(request)
    definition = checker.require_valid(pipeline.definition, "definition")
    rows: list[BatchRow] = []
    answers: dict[int, dict[str, Any]] = {}
    for item in parsed.items:
        if isinstance(item, ItemFault):
            answers[item.index] = item.to_json()
            continue
        try:
            params = checker.resolve_params(definition, item.params)
        except ApiError as error:
            answers[item.index] = _params_fault(item.index, error)
            continue
        execution = scheduler.new_execution(_request_of(item, params, pipeline.id, pipeline.definition))
        rows.append(
            BatchRow(
                index=item.index,
                execution=execution,
                key=item.idempotency_key,
                fingerprint=item.fingerprint,
                replay_body=dump_json({"id": execution.id}),
            )
        )
    outcomes = await asyncio.shield(_store_and_admit(request, rows, pipeline.id, pipeline.definition))
    created = [o.execution for o in outcomes if isinstance(o, Outcome) and o.created]
    for outcome in outcomes:
        answers[outcome.index] = _answer(outcome)
    _skip_request_record(request, parsed)
    items = [answers[index] for index in range(len(parsed.items))]
    return json_response(
        {
            "items": items,
            "created": len(created),
            "replayed": sum(1 for o in outcomes if isinstance(o, Outcome) and not o.created),
            "failed": sum(1 for item in items if "error" in item),
        }
    )


async def _store_and_admit(
    request: web.Request, rows: list[BatchRow], pipeline_id: str, definition: Any
) -> list[Outcome | Conflict]:
    """Commit the batch, then queue what it created.

    The caller shields it, so a client hanging up in between cannot leave committed executions
    unqueued until the next restart.
    """
    outcomes = await insert_batch(store_of(request), rows, definition, item_route(pipeline_id))
    created = [o.execution for o in outcomes if isinstance(o, Outcome) and o.created]
    with contextlib.suppress(SchedulerStopped):  # shutting down: they stay pending, run at next start
        scheduler_of(request).admit(created, definition)
    return outcomes


def _request_of(
    item: ItemSpec, params: dict[str, Any], pipeline_id: str, definition: Any
) -> ExecutionRequest:
    return ExecutionRequest(
        definition=definition,
        pipeline_id=pipeline_id,
        params=params,
        priority=Priority(item.priority),
        tags=item.tags,
        callbacks=item.callbacks,
        timeout_seconds=item.timeout_seconds,
    )


def _too_large(length: int | None, limit: int) -> ApiError:
    size = f" ({length} bytes)" if length is not None else ""
    message = f"request body is too large{size}; the limit is {limit} bytes: send fewer items per batch"
    details = [{"path": "body", "message": message, "code": "too_large"}]
    return ApiError(413, message, code="payload_too_large", details=details)


def _params_fault(index: int, error: ApiError) -> dict[str, Any]:
    details = [
        {**detail, "path": f"items[{index}].{detail.get('path', 'params')}"}
        for detail in (error.details if isinstance(error.details, list) else [])
        if isinstance(detail, dict)
    ]
    field = details[0]["path"] if details else f"items[{index}].params"
    message = "; ".join(f"{d['path']}: {d.get('message', '')}" for d in details) or error.message
    return {
        "index": index,
        "status": error.status,
        "error": {"code": error.code, "message": message, "details": details, "field": field},
    }


def _answer(outcome: Outcome | Conflict) -> dict[str, Any]:
    if isinstance(outcome, Conflict):
        field = f"items[{outcome.index}].idempotency_key"
        message = "this idempotency_key was already used for different content; use a new key"
        return {
            "index": outcome.index,
            "status": 409,
            "error": {
                "code": "idempotency_key_reused",
                "message": message,
                "details": [{"path": field, "message": message, "code": "idempotency_key_reused"}],
                "field": field,
            },
        }
    answer: dict[str, Any] = {
        "index": outcome.index,
        "status": 201 if outcome.created else 200,
        "execution": _render(outcome.execution),
    }
    if not outcome.created:
        answer["replayed"] = True
    return answer


def _render(execution: Execution) -> Any:
    return to_json_dict(execution)


def _skip_request_record(request: web.Request, parsed: BatchRequest) -> None:
    """Do not store the whole answer under the request's Idempotency-Key when every item has its own key.

    A retried request then re-runs and each item replays through its own key, with the execution's
    current state, instead of the database keeping a copy of up to 1,000 executions per request.
    """
    if request.get(IDEMPOTENCY) is None:
        return
    if all(isinstance(item, ItemFault) or item.idempotency_key is not None for item in parsed.items):
        idempotency_record(request, 200)


def setup(app: web.Application) -> None:
    """Register the batch route and the status subscription routes."""
    app.router.add_post("/budpipeline/{pipeline_id}/execute/batch", execute_batch)
    watch.setup(app)
