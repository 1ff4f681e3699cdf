"""Pipeline routes: create, list, get, PATCH, PUT, DELETE, and definition validation.

A pipeline keeps its definition exactly as submitted (`definition`, or the gateway's alias `dag`);
every create or update validates it first and answers 422 naming each fault. `version` counts
revisions; a concurrent update of the same revision answers 409. Deleting a pipeline leaves its
executions in place (they hold their own definition snapshot).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
from aiohttp import web

from budai_async._convert import to_json_dict
from budai_async.models import Pipeline
from budai_server.ids import new_pipeline_id
from budai_server.routes.context import checker_of, store_of
from budai_server.routes.errors import ApiError, json_response
from budai_server.routes.gateway_fields import PIPELINE_GATEWAY_FIELDS, boolean, page_window, string_map
from budai_server.routes.middleware import idempotency_record
from budai_server.routes.parse import MAX_NAME_LENGTH, MISSING, Fields, QueryFields, read_json_object

__all__ = ["PIPELINE_STATUSES", "setup"]

PIPELINE_STATUSES = ("draft", "active", "archived")
DEFINITION_ALIASES = ("definition", "dag")
# `user_id` and `system_owned` are the gateway's ownership fields: checked and ignored (one user here).
_FIELDS = frozenset({"name", "description", "tags", "status", *DEFINITION_ALIASES, *PIPELINE_GATEWAY_FIELDS})
MAX_PAGE = 1000
PIPELINE_PATH = (
    "/budpipeline/{pipeline_id:(?!(?:executions|actions|run|validate|schedules|webhooks|trigger)$)[^{}/]+}"
)


def definition_field(fields: Fields, names: tuple[str, ...], *, required: bool) -> tuple[str, Any]:
    """Which alias carried the definition and its value (MISSING when absent or not an object)."""
    given = [name for name in names if fields.has(name)]
    if len(given) > 1:
        fields.fail(given[1], f"give the definition once: {', '.join(repr(n) for n in names)} are aliases")
        return given[0], MISSING
    if not given:
        if required:
            fields.fail(names[0], "field is required", "required")
        return names[0], MISSING
    return given[0], fields.obj(given[0], required=True)


def _step_count(definition: dict[str, Any]) -> int:
    steps = definition.get("steps")
    return len(steps) if isinstance(steps, list) else 0


class _PipelineFields:
    """The parsed fields of a create/replace/patch body (MISSING for what was not sent)."""

    def __init__(self, body: dict[str, Any], *, full: bool) -> None:
        fields = Fields(body, allowed=_FIELDS)
        field, definition = definition_field(fields, DEFINITION_ALIASES, required=full)
        name = fields.string("name", max_length=MAX_NAME_LENGTH)
        if full and name is MISSING and not fields.has("name"):
            dag_name = definition.get("name") if isinstance(definition, dict) else None
            if isinstance(dag_name, str) and dag_name.strip():
                name = dag_name[:MAX_NAME_LENGTH]
            elif definition is not MISSING:
                fields.fail("name", "field is required (or give the definition a 'name')", "required")
        self.name = name
        self.description = fields.string("description", nullable=True, max_length=10_000, non_empty=False)
        self.tags = string_map(fields)
        self.status = fields.choice("status", PIPELINE_STATUSES, str)
        self.icon = fields.string("icon", nullable=True, max_length=2048)
        self.is_active = boolean(fields, "is_active")
        fields.string("user_id", nullable=True, max_length=255)
        boolean(fields, "system_owned")
        self.definition = definition
        self.definition_field = field
        fields.check()

    def changes(self) -> dict[str, Any]:
        values = {
            "name": self.name,
            "description": self.description,
            "tags": {} if self.tags is None else self.tags,
            "status": self.status,
            "icon": self.icon,
            "is_active": self.is_active,
            "definition": self.definition,
        }
        return {key: value for key, value in values.items() if value is not MISSING}


async def create_pipeline(request: web.Request) -> web.Response:
    """POST /budpipeline -> 201 pipeline."""
    parsed = _PipelineFields(await read_json_object(request), full=True)
    checker_of(request).require_valid(parsed.definition, parsed.definition_field)
    now = datetime.now(UTC)
    changes = parsed.changes()
    pipeline = Pipeline(
        id=new_pipeline_id(),
        created_at=now,
        updated_at=now,
        version=1,
        step_count=_step_count(changes["definition"]),
        **changes,
    )
    body = to_json_dict(pipeline)
    record = idempotency_record(request, 201)
    await store_of(request).insert_pipeline(pipeline, record(body) if record is not None else None)
    return json_response(body, status=201)


async def list_pipelines(request: web.Request) -> web.Response:
    """GET /budpipeline?name_contains&limit&offset -> {items, total, limit, offset}, newest first."""
    query = QueryFields(request.query)
    name_contains = query.string("name_contains")
    limit = query.integer("limit", default=20, minimum=1, maximum=MAX_PAGE)
    offset = query.integer("offset", default=0, minimum=0, maximum=2**62)
    limit, offset = page_window(query, limit, offset, maximum=MAX_PAGE)
    query.check()
    items, total = await store_of(request).list_pipelines(
        name_contains=name_contains, limit=limit, offset=offset
    )
    return json_response({"items": to_json_dict(items), "total": total, "limit": limit, "offset": offset})


async def _existing(request: web.Request) -> Pipeline:
    pipeline_id = request.match_info["pipeline_id"]
    pipeline = await store_of(request).get_pipeline(pipeline_id)
    if pipeline is None:
        raise ApiError.not_found("pipeline", pipeline_id)
    return pipeline


async def get_pipeline(request: web.Request) -> web.Response:
    return json_response(to_json_dict(await _existing(request)))


async def _update(request: web.Request, *, full: bool) -> web.Response:
    body = await read_json_object(request)
    parsed = _PipelineFields(body, full=full)
    changes = parsed.changes()
    if not changes:
        raise ApiError.invalid(
            [{"path": "", "message": "send at least one field to change", "code": "empty"}],
            "nothing to update",
        )
    if "definition" in changes:
        checker_of(request).require_valid(parsed.definition, parsed.definition_field)
    current = await _existing(request)
    if full:  # PUT: fields not sent go back to their defaults
        changes = {
            "description": None,
            "tags": {},
            "status": "active",
            "icon": None,
            "is_active": True,
            **changes,
        }
    if "definition" in changes:
        changes["step_count"] = _step_count(changes["definition"])
    updated = attrs.evolve(current, **changes, version=current.version + 1, updated_at=datetime.now(UTC))
    if not await store_of(request).update_pipeline(updated, expected_version=current.version):
        latest = await _existing(request)
        raise ApiError(
            409,
            f"pipeline {current.id!r} changed while this update was applied (now version {latest.version}); "
            "read it again and retry",
            details={"id": current.id, "version": latest.version},
        )
    return json_response(to_json_dict(updated))


async def patch_pipeline(request: web.Request) -> web.Response:
    """PATCH /budpipeline/{id}: change only the fields sent."""
    return await _update(request, full=False)


async def put_pipeline(request: web.Request) -> web.Response:
    """PUT /budpipeline/{id}: replace name, definition, description, tags, status, icon and is_active."""
    return await _update(request, full=True)


async def delete_pipeline(request: web.Request) -> web.Response:
    """DELETE /budpipeline/{id} -> 204; the pipeline's executions stay."""
    pipeline_id = request.match_info["pipeline_id"]
    if not await store_of(request).delete_pipeline(pipeline_id):
        raise ApiError.not_found("pipeline", pipeline_id)
    return web.Response(status=204)


async def validate_definition(request: web.Request) -> web.Response:
    """POST /budpipeline/validate {definition} -> {valid, errors, warnings} (200 even when invalid)."""
    fields = Fields(await read_json_object(request), allowed=(*DEFINITION_ALIASES, "pipeline_definition"))
    _field, definition = definition_field(fields, (*DEFINITION_ALIASES, "pipeline_definition"), required=True)
    fields.check()
    result, _parsed = checker_of(request).validate(definition)
    return json_response(to_json_dict(result))


def setup(app: web.Application) -> None:
    app.router.add_post("/budpipeline", create_pipeline)
    app.router.add_get("/budpipeline", list_pipelines)
    app.router.add_post("/budpipeline/validate", validate_definition)
    # Plain paths (/budpipeline/executions, /validate, /run ...) win over {pipeline_id} whatever the
    # order; the pattern also keeps their names out of {pipeline_id}, so `PUT /budpipeline/run` is a 405.
    app.router.add_get(PIPELINE_PATH, get_pipeline)
    app.router.add_patch(PIPELINE_PATH, patch_pipeline)
    app.router.add_put(PIPELINE_PATH, put_pipeline)
    app.router.add_delete(PIPELINE_PATH, delete_pipeline)
