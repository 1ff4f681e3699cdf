"""Request side of the document: body schemas and the shared parameters.

Each limit is imported from the module that enforces it, so the document moves with the code.
Where a route is more lenient than a schema can say (case-insensitive enums, stripped values),
the schema states the canonical form and the description says the rest.
"""

from __future__ import annotations

from budai_async.logs.cursor import _ALIASES as LEVEL_ALIASES  # the level aliases the parser accepts
from budai_async.logs.cursor import LEVELS, MAX_SEQ
from budai_async.models import Priority
from budai_async.pipeline.definition import MAX_STEPS, MAX_TIMEOUT_SECONDS
from budai_server.batch_items import DEFAULT_FIELDS, MAX_BATCH_ITEMS
from budai_server.batch_items import MAX_KEY_LENGTH as MAX_ITEM_KEY_LENGTH
from budai_server.limits import MAX_TAG_LENGTH, MAX_TAGS
from budai_server.openapi.gateway import origin_fields, pipeline_fields, pipeline_tags
from budai_server.openapi.operations import query
from budai_server.openapi.schema import NON_BLANK, STRING, Schema, nullable, obj, one_of_fields, ref
from budai_server.routes.middleware import MAX_KEY_LENGTH
from budai_server.routes.parse import MAX_NAME_LENGTH
from budai_server.routes.pipelines import MAX_PAGE, PIPELINE_STATUSES
from budai_server.routes.watch import MAX_IDS_PER_MESSAGE

__all__ = ["parameters", "request_schemas"]

# What urlsplit reads as an http(s) URL with a host: it drops tabs and newlines, ends the host at
# the first / ? or #, and refuses brackets there unless they hold an IPv6 address (left out here).
_HTTP_URL = r"^[Hh][Tt][Tt][Pp][Ss]?://[\t\r\n]*[^/?#\[\]\t\r\n][^/?#\[\]]*([/?#][\s\S]*)?$"
# 1-255 printable ASCII characters, no blank at either end (HTTP strips those)
_IDEMPOTENCY_KEY = rf"^[\x21-\x7e]([\x20-\x7e]{{0,{MAX_KEY_LENGTH - 2}}}[\x21-\x7e])?$"
_PRIORITIES = [str(priority) for priority in Priority]
_DEFINITION_FIELDS = ("definition", "dag")


def _tags() -> Schema:
    item = {"type": "string", "maxLength": MAX_TAG_LENGTH, "pattern": r"^[^,]*[^,\s\x1c-\x1f\x85][^,]*$"}
    return {
        "type": "array",
        "maxItems": MAX_TAGS,
        "items": item,
        "description": "non-blank, without commas; duplicates are dropped",
    }


def _callbacks() -> Schema:
    url = {"type": ["string", "null"], "maxLength": 2048, "pattern": _HTTP_URL}
    return obj(
        {"on_complete": url, "on_failure": url},
        description="Absolute http(s) URLs to POST the signed callback to (docs/callbacks.md).",
    )


def _run_options() -> dict[str, Schema]:
    return {
        "params": {
            "type": ["object", "null"],
            "description": "checked against the definition's `parameters`",
        },
        "priority": {"type": "string", "enum": _PRIORITIES, "description": "default `normal`"},
        "callbacks": nullable(ref("Callbacks")),
        "tags": nullable(ref("Tags")),
        "timeout_seconds": {
            "type": ["number", "null"],
            "exclusiveMinimum": 0,
            "maximum": MAX_TIMEOUT_SECONDS,
            "description": "bounds the whole execution from its start",
        },
        **origin_fields(),
    }


def _definition_schemas() -> dict[str, Schema]:
    step = {
        "type": "object",
        "required": ["id", "action"],
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$"},
            "name": {},
            "action": {"type": "string", "description": "a type of `GET /budpipeline/actions`"},
            "params": {},
            "depends_on": {},
            "condition": {},
            "retry": {},
            "timeout_seconds": {},
        },
        "additionalProperties": False,
        "description": "One step; docs/engine.md has every key's meaning.",
    }
    definition = {
        "type": "object",
        "required": ["steps"],
        "properties": {
            "steps": {"type": "array", "minItems": 1, "maxItems": MAX_STEPS, "items": ref("PipelineStep")},
            "parameters": {},
            "outputs": {},
            "name": {},
            "edges": {},
            "description": {},
            "version": {},
        },
        "additionalProperties": False,
        "description": "A pipeline DAG. The schema gives its outline; the server also checks actions, "
        "params, templates and references and answers 422 `invalid_definition` naming each fault.",
    }
    return {"PipelineDefinition": definition, "PipelineStep": step}


def _pipeline_bodies() -> dict[str, Schema]:
    fields = {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME_LENGTH,
            "pattern": NON_BLANK,
            "description": "required unless the definition has a `name`",
        },
        "description": {"type": ["string", "null"], "maxLength": 10_000},
        "definition": ref("PipelineDefinition"),
        "dag": {**ref("PipelineDefinition"), "description": "the gateway's name for `definition`"},
        "status": {"type": "string", "enum": list(PIPELINE_STATUSES)},
        **pipeline_fields(),
    }
    named_definition = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "pattern": NON_BLANK}},
    }
    name_given = [{"required": ["name"]}] + [
        {"required": [field], "properties": {field: named_definition}} for field in _DEFINITION_FIELDS
    ]
    return {
        "PipelineCreate": obj(
            fields,
            allOf=[{"oneOf": one_of_fields(_DEFINITION_FIELDS)}, {"anyOf": name_given}],
            description="The definition under one of its names; `name`, unless the definition has one.",
        ),
        "PipelinePatch": obj(
            fields,
            minProperties=1,
            description="Only the fields sent change.",
            not_={"required": list(_DEFINITION_FIELDS)},
        ),
        "ValidateRequest": obj(
            {
                "definition": {"type": "object"},
                "dag": {"type": "object"},
                "pipeline_definition": {"type": "object"},
            },
            oneOf=one_of_fields(("definition", "dag", "pipeline_definition")),
            description="The definition to check, under any of its three names; any object is answered "
            "with 200 and the faults found.",
        ),
    }


def _execution_bodies() -> dict[str, Schema]:
    options = _run_options()
    definition = ref("PipelineDefinition")
    run_fields = {"pipeline_definition": definition, "definition": definition, "dag": definition, **options}
    item: dict[str, Schema] = {
        "params": {"type": ["object", "null"]},
        "tags": nullable(ref("Tags")),
        "priority": {"type": ["string", "null"], "enum": [*_PRIORITIES, None]},
        "callbacks": {
            "type": ["object", "null"],
            "properties": {
                key: {"type": ["string", "null"], "pattern": _HTTP_URL}
                for key in ("on_complete", "on_failure")
            },
            "additionalProperties": False,
        },
        "timeout_seconds": {
            "type": ["number", "null"],
            "exclusiveMinimum": 0,
            "maximum": MAX_TIMEOUT_SECONDS,
        },
    }
    return {
        "RunOptions": obj(options, description="Options of one execution; all optional."),
        "RunRequest": obj(run_fields, oneOf=one_of_fields(("pipeline_definition", *_DEFINITION_FIELDS))),
        "CancelRequest": obj({}, description="No fields; the body may be empty."),
        "BatchDefaults": {
            **obj({key: item[key] for key in item if key in DEFAULT_FIELDS}),
            "type": ["object", "null"],
            "description": "Options every item gets unless it gives its own.",
        },
        "BatchItem": obj(
            {
                **item,
                "idempotency_key": {
                    "type": ["string", "null"],
                    "minLength": 1,
                    "maxLength": MAX_ITEM_KEY_LENGTH,
                    "description": "per-item key, scoped to the pipeline",
                },
            },
            description="One execution of a batch; a field given here replaces the one in `defaults`.",
        ),
        "BatchRequest": obj(
            {
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_BATCH_ITEMS,
                    "items": ref("BatchItem"),
                    "description": "an item that does not match `BatchItem` is refused alone, in its result",
                },
                "defaults": ref("BatchDefaults"),
            },
            ("items",),
        ),
        "WaitRequest": obj(
            {
                "ids": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_IDS_PER_MESSAGE,
                    "items": {"type": "string", "minLength": 1, "maxLength": 200},
                },
                "timeout": {
                    "type": ["number", "null"],
                    "minimum": 0,
                    "description": "seconds (default 30), capped by the server's long-poll limit",
                },
            },
            ("ids",),
        ),
    }


def request_schemas() -> dict[str, Schema]:
    """The request body schemas (and the shared shapes they use)."""
    return {
        "Tags": _tags(),
        "PipelineTags": pipeline_tags(),
        "Callbacks": _callbacks(),
        **_definition_schemas(),
        **_pipeline_bodies(),
        **_execution_bodies(),
        "Instant": {
            "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
            "description": "a date (midnight UTC) or an ISO-8601 datetime (no offset means UTC)",
        },
    }


def parameters() -> dict[str, Schema]:
    """The shared parameters of ``components.parameters``."""
    return {
        "PipelineId": {
            "name": "pipeline_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^pipe_[0-9a-f]{32}$"},
        },
        "ExecutionId": {
            "name": "execution_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^exec_[0-9a-f]{32}$"},
        },
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {
                "type": "string",
                "pattern": _IDEMPOTENCY_KEY,
            },
            "description": "Replay protection (docs/server.md#idempotency): the first 2xx answer is "
            "stored; a repeat with the same body gets it back with `Idempotent-Replayed: true`.",
        },
        "Limit": query(
            "limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "page size, default 20"
        ),
        "Offset": query("offset", {"type": "integer", "minimum": 0, "maximum": 2**62}, "rows to skip"),
        "LogLevel": query(
            "level",
            {"type": "string", "enum": [*LEVELS, *LEVEL_ALIASES]},
            "minimum level (case-insensitive; `warn`, `err`, `critical`, `fatal` are aliases)",
        ),
        "LogStepId": query("step_id", STRING, "only lines of this step"),
        "LogSince": query(
            "since",
            {
                "anyOf": [
                    {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([mM][sS]|[sSmMhHdDwW])\s*$"},
                    {"type": "string", "format": "date-time"},
                ]
            },
            "a duration before now (`30s`, `5m`, `2h`, `1d`, `1w`, `500ms`) or an ISO-8601 time",
        ),
        "LogAfterSeq": query(
            "after_seq", {"type": "integer", "minimum": 0, "maximum": MAX_SEQ}, "only lines with a larger seq"
        ),
    }
