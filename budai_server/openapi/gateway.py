"""The document's gateway-compatible shapes (docs/compatibility.md): what `budai_async._wire` writes
where our models and the BudAI gateway / official `bud` SDK disagree, and the gateway's request fields.
"""

from __future__ import annotations

from budai_async._wire import GATEWAY_STEP_STATUS
from budai_async.models import StepStatus
from budai_server.limits import MAX_TAG_LENGTH, MAX_TAGS
from budai_server.openapi.operations import query
from budai_server.openapi.schema import NON_BLANK, STRING, Schema, obj, ref
from budai_server.routes.gateway_fields import MAX_ID_LENGTH, MAX_TAG_VALUE_LENGTH, MAX_TOPICS
from budai_server.routes.pipelines import MAX_PAGE

__all__ = [
    "execution_wire_schema",
    "gateway_answer_schemas",
    "origin_fields",
    "page_parameters",
    "pipeline_fields",
    "pipeline_tags",
    "progress_counts_properties",
]

_WHEN = {"type": ["string", "null"], "format": "date-time"}
_TEXT = {"type": ["string", "null"], "maxLength": MAX_ID_LENGTH}


def pipeline_tags() -> Schema:
    """Pipeline tags: the gateway's string map; an array of strings is read as ``{tag: ""}``."""
    return {
        "anyOf": [
            {
                "type": "object",
                "maxProperties": MAX_TAGS,
                "propertyNames": {"minLength": 1, "maxLength": MAX_TAG_LENGTH, "pattern": NON_BLANK},
                "additionalProperties": {"type": "string", "maxLength": MAX_TAG_VALUE_LENGTH},
            },
            {
                "type": "array",
                "maxItems": MAX_TAGS,
                "items": {"type": "string", "maxLength": MAX_TAG_LENGTH, "pattern": NON_BLANK},
            },
            {"type": "null"},
        ],
        "description": 'a map of tag name to value (the gateway\'s form); an array of names maps each to ""',
    }


def pipeline_fields() -> dict[str, Schema]:
    """The gateway's pipeline body fields beside ours."""
    return {
        "tags": ref("PipelineTags"),
        "icon": {"type": ["string", "null"], "maxLength": 2048, "pattern": NON_BLANK},
        "is_active": {"type": "boolean"},
        "user_id": {**_TEXT, "pattern": NON_BLANK, "description": "the gateway's owner field; ignored here"},
        "system_owned": {"type": "boolean", "description": "the gateway's flag; ignored here"},
    }


def origin_fields() -> dict[str, Schema]:
    """The gateway's execution request fields: stored on the execution and echoed."""
    text = {**_TEXT, "pattern": NON_BLANK}
    return {
        "context": {"type": ["object", "null"], "description": "free-form, echoed as `context`"},
        "initiator": text,
        "user_id": text,
        "callback_topics": {
            "type": ["array", "null"],
            "maxItems": MAX_TOPICS,
            "items": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": NON_BLANK},
            "description": "the gateway's Dapr topics; stored and echoed (no pub/sub here)",
        },
        "subscriber_ids": {"type": ["string", "null"], "maxLength": 4096, "pattern": NON_BLANK},
        "payload_type": text,
        "notification_workflow_id": text,
    }


def page_parameters() -> tuple[Schema, ...]:
    """The gateway's paging parameters (used when `limit` is not sent)."""
    size = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}
    return (
        query("page", {"type": "integer", "minimum": 1, "maximum": 2**31}, "1-based page (with `per_page`)"),
        query("per_page", size, "page size for `page` (the official SDK's name)"),
        query("page_size", size, "page size for `page` (the gateway's name)"),
    )


def _step() -> Schema:
    coarse = sorted(set(GATEWAY_STEP_STATUS.values()))
    return obj(
        {
            "id": STRING,
            "node_id": STRING,
            "step_id": STRING,
            "name": STRING,
            "status": {"type": "string", "enum": coarse, "description": "the official SDK's five values"},
            "run_status": {"type": "string", "enum": [str(s) for s in StepStatus], "description": "ours"},
            "output": {"type": "object", "description": "absent until the step has an output"},
            "error": {"type": ["string", "null"]},
            "attempts": {"type": "integer", "minimum": 0},
            "skip_reason": {"type": ["string", "null"]},
            "started_at": _WHEN,
            "completed_at": _WHEN,
            "duration_seconds": {"type": ["number", "null"]},
            "duration_ms": {"type": ["integer", "null"]},
        },
        ("id", "node_id", "step_id", "name", "status", "run_status", "attempts"),
        description="One step of an execution, with its id (the wire form of `StepRun`).",
    )


def _counts() -> dict[str, Schema]:
    count = {"type": "integer", "minimum": 0}
    return {
        "total_steps": count,
        "completed_steps": count,
        "failed_steps": count,
        "running_steps": count,
        "pending_steps": count,
        "skipped_steps": count,
        "percent_complete": {"type": "number", "minimum": 0, "maximum": 100},
    }


def gateway_answer_schemas() -> dict[str, Schema]:
    """ExecutionStep, ExecutionProgress, ExecutionEvent and their pages."""
    count = {"type": "integer", "minimum": 0}
    event = obj(
        {
            "id": {**STRING, "description": "stable: the same event has the same id on every read"},
            "execution_id": STRING,
            "step_id": {"type": ["string", "null"]},
            "type": {"type": "string", "description": "execution.created, step.started, step.completed ..."},
            "data": {"type": "object"},
            "timestamp": {"type": "string", "format": "date-time"},
        },
        ("id", "execution_id", "step_id", "type", "data", "timestamp"),
    )
    return {
        "ExecutionStep": _step(),
        "ExecutionProgress": obj(_counts(), tuple(_counts()), description="Step counts by state."),
        "ExecutionEvent": event,
        "StepPage": obj(
            {"items": {"type": "array", "items": ref("ExecutionStep")}, "total": count}, ("items", "total")
        ),
        "EventPage": obj(
            {"items": {"type": "array", "items": ref("ExecutionEvent")}, "total": count}, ("items", "total")
        ),
    }


def progress_counts_properties() -> dict[str, Schema]:
    """The `ExecutionProgress` fields the progress route adds at its top level."""
    return _counts()


def execution_wire_schema(schema: Schema) -> Schema:
    """Turn the model-derived Execution schema into its wire form (steps list, progress object)."""
    properties = schema["properties"]
    properties["steps"] = {"type": "array", "items": ref("ExecutionStep"), "description": "definition order"}
    properties["progress"] = ref("ExecutionProgress")
    properties["progress_percentage"] = {
        "type": "string",
        "pattern": r"^\d{1,3}\.\d{2}$",
        "description": "share of steps that finished in any way, 0-100 (the gateway's decimal string)",
    }
    properties["duration_ms"] = {"type": ["integer", "null"]}
    schema["required"] = list(properties)
    return schema
