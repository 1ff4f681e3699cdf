"""Schemas of schedules, webhook triggers and event triggers (requests and answers).

Limits come from the modules that enforce them. What a schema cannot state (a cron expression that
croniter refuses, an unknown IANA zone, a pipeline that does not exist) is answered 422/404 naming
the field, as everywhere else.
"""

from __future__ import annotations

from budai_async.pipeline.definition import MAX_TIMEOUT_SECONDS
from budai_server.openapi.schema import NON_BLANK, Schema, nullable, obj, ref
from budai_server.routes.executions import PRIORITIES
from budai_server.routes.parse import MAX_NAME_LENGTH
from budai_server.routes.schedule_fields import MAX_CATCHUP_WINDOW_SECONDS
from budai_server.triggers.catchup import CATCHUP_POLICIES, OVERLAP_POLICIES
from budai_server.triggers.events import EVENT_TYPES, MAX_CHAIN_DEPTH
from budai_server.triggers.timing import SCHEDULE_TYPES

__all__ = ["trigger_schemas"]

_TIME = {"type": "string", "format": "date-time"}
_NULL_TIME = {"type": ["string", "null"], "format": "date-time"}
_ID = {"type": "string", "maxLength": 200, "pattern": NON_BLANK}
_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH, "pattern": NON_BLANK}
_DESCRIPTION = {"type": ["string", "null"], "maxLength": 2000}
_EXPRESSION = {
    "type": "string",
    "maxLength": 200,
    "pattern": NON_BLANK,
    "description": "5-field cron (`0 9 * * 1-5`), a cron alias (`@daily`) or an interval (`@every 1h30m`)",
}
_ZONE = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NON_BLANK, "description": "IANA zone"}
_PARAMS = {"type": ["object", "null"], "description": "execution params (checked when a run starts)"}
_PRIORITY = {"type": "string", "enum": list(PRIORITIES)}
_ONE_EXPRESSION = {"not": {"required": ["cron", "expression"]}}
_TIMING_FIELDS = ("cron", "expression", "type", "timezone", "run_at")


def _timing() -> dict[str, Schema]:
    return {
        "type": {"type": "string", "enum": list(SCHEDULE_TYPES), "description": "`@every` makes an interval"},
        "expression": _EXPRESSION,
        "cron": {**_EXPRESSION, "description": "the official SDK's name for `expression`"},
        "timezone": _ZONE,
        "run_at": {**_TIME, "description": "when a `one_time` schedule fires (no offset: its zone)"},
    }


def _schedule_options() -> dict[str, Schema]:
    return {
        "name": _NAME,
        "description": _DESCRIPTION,
        "params": _PARAMS,
        "enabled": {"type": "boolean", "description": "false creates it paused"},
        "priority": _PRIORITY,
        "tags": nullable(ref("Tags")),
        "callbacks": nullable(ref("Callbacks")),
        "timeout_seconds": {
            "type": ["number", "null"],
            "exclusiveMinimum": 0,
            "maximum": MAX_TIMEOUT_SECONDS,
        },
        "catchup": {"type": "string", "enum": list(CATCHUP_POLICIES), "description": "default `latest`"},
        "catchup_window_seconds": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_CATCHUP_WINDOW_SECONDS,
            "description": "default one year",
        },
        "overlap": {"type": "string", "enum": list(OVERLAP_POLICIES), "description": "default `skip`"},
    }


def _timing_alternatives() -> list[Schema]:
    """Timing in `schedule` (nothing at the top level) or at the top level (no `schedule`)."""
    nested: Schema = {"required": ["schedule"], "not": {"anyOf": [{"required": [f]} for f in _TIMING_FIELDS]}}
    flat: Schema = {
        "not": {"required": ["schedule"]},
        "anyOf": [{"required": ["cron"]}, {"required": ["expression"]}, {"required": ["run_at"]}],
    }
    return [nested, flat]


def _schedule_requests() -> dict[str, Schema]:
    timing_object = obj(
        _timing(),
        anyOf=[{"required": ["cron"]}, {"required": ["expression"]}, {"required": ["run_at"]}],
        allOf=[_ONE_EXPRESSION],
        description="The pipeline service's timing object.",
    )
    create = obj(
        {
            "pipeline_id": _ID,
            "workflow_id": {**_ID, "description": "the pipeline service's name for `pipeline_id`"},
            "schedule": timing_object,
            **_timing(),
            **_schedule_options(),
        },
        ("name",),
        oneOf=[
            {"required": ["pipeline_id"], "not": {"required": ["workflow_id"]}},
            {"required": ["workflow_id"], "not": {"required": ["pipeline_id"]}},
        ],
        allOf=[{"oneOf": _timing_alternatives()}, _ONE_EXPRESSION],
        description="Either wire shape: `{workflow_id, name, schedule: {...}}` or "
        "`{pipeline_id, name, cron, timezone}`.",
    )
    update_timing = obj(_timing(), allOf=[_ONE_EXPRESSION])
    update = obj(
        {"schedule": update_timing, **_timing(), **_schedule_options()},
        allOf=[
            _ONE_EXPRESSION,
            {
                "anyOf": [
                    {"not": {"required": ["schedule"]}},
                    {"not": {"anyOf": [{"required": [f]} for f in _TIMING_FIELDS]}},
                ]
            },
        ],
        description="Partial update; a changed timing restarts the count from now.",
    )
    return {"ScheduleCreate": create, "ScheduleUpdate": update, "EmptyBody": obj({})}


def _schedule_answers() -> dict[str, Schema]:
    schedule = obj(
        {
            "id": {"type": "string"},
            "pipeline_id": {"type": "string"},
            "workflow_id": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "cron": {"type": "string", "description": "the expression (empty for one_time)"},
            "timezone": {"type": "string"},
            "schedule": obj(
                {
                    "type": {"type": "string", "enum": list(SCHEDULE_TYPES)},
                    "expression": {"type": "string"},
                    "timezone": {"type": "string"},
                    "run_at": _NULL_TIME,
                },
                ("type", "expression", "timezone", "run_at"),
            ),
            "status": {"type": "string", "enum": ["active", "paused", "disabled"]},
            "enabled": {"type": "boolean"},
            "params": {"type": "object"},
            "priority": _PRIORITY,
            "tags": {"type": "array", "items": {"type": "string"}},
            "callbacks": {"type": "object", "additionalProperties": {"type": "string"}},
            "timeout_seconds": {"type": ["number", "null"]},
            "catchup": {"type": "string", "enum": list(CATCHUP_POLICIES)},
            "catchup_window_seconds": {"type": "number"},
            "overlap": {"type": "string", "enum": list(OVERLAP_POLICIES)},
            "next_run_at": _NULL_TIME,
            "last_run_at": _NULL_TIME,
            "last_execution_id": {"type": ["string", "null"]},
            "run_count": {"type": "integer"},
            "skipped_count": {"type": "integer"},
            "created_at": _TIME,
            "updated_at": _TIME,
        },
        description="A schedule, readable as the pipeline service's and the official SDK's shape.",
    )
    schedule["required"] = list(schedule["properties"])
    run = obj(
        {
            "run_at": _TIME,
            "kind": {"type": "string", "enum": ["scheduled", "manual"]},
            "status": {"type": "string", "enum": ["fired", "skipped", "failed"]},
            "reason": {"type": ["string", "null"]},
            "execution_id": {"type": ["string", "null"]},
            "recorded_at": _TIME,
        },
        ("run_at", "kind", "status", "reason", "execution_id", "recorded_at"),
    )
    started: Schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "execution_id": {"type": "string"},
            "pipeline_id": {"type": ["string", "null"]},
            "status": {"type": "string"},
            "params": {"type": "object"},
            "steps": {"type": "array", "items": ref("ExecutionStep")},
            "progress": ref("ExecutionProgress"),
            "progress_percentage": {"type": "string"},
        },
        "required": [
            "id",
            "execution_id",
            "pipeline_id",
            "status",
            "params",
            "steps",
            "progress",
            "progress_percentage",
        ],
        "description": "The execution's wire fields (`steps` as the gateway's list, `progress` as the "
        "official `ExecutionProgress`, docs/compatibility.md) plus `execution_id`.",
    }
    return {
        "StartedExecution": started,
        "Schedule": schedule,
        "ScheduleRun": run,
        "ScheduleRuns": obj(
            {"items": {"type": "array", "items": run}, "total": {"type": "integer"}}, ("items", "total")
        ),
        "NextRuns": obj(
            {
                "schedule_id": {"type": "string"},
                "timezone": {"type": "string"},
                "next_runs": {"type": "array", "items": _TIME},
            },
            ("schedule_id", "timezone", "next_runs"),
        ),
    }


def _webhook_schemas() -> dict[str, Schema]:
    headers = {
        "type": ["object", "null"],
        "maxProperties": 20,
        "propertyNames": {"minLength": 1},
        "additionalProperties": {"type": "string"},
        "description": "headers every inbound request must carry with these values",
    }
    create = obj(
        {
            "pipeline_id": _ID,
            "workflow_id": _ID,
            "name": _NAME,
            "description": _DESCRIPTION,
            "headers": headers,
            "params": _PARAMS,
            "priority": _PRIORITY,
            "tags": nullable(ref("Tags")),
        },
        ("name",),
        oneOf=[
            {"required": ["pipeline_id"], "not": {"required": ["workflow_id"]}},
            {"required": ["workflow_id"], "not": {"required": ["pipeline_id"]}},
        ],
    )
    webhook_props: dict[str, Schema] = {
        "id": {"type": "string"},
        "pipeline_id": {"type": "string"},
        "workflow_id": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "url": {"type": "string", "description": "the public trigger URL to give the sender"},
        "is_active": {"type": "boolean"},
        "secret_hash": {"type": "string", "description": "a fingerprint of the secret, never the secret"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "params": {"type": "object"},
        "priority": _PRIORITY,
        "tags": {"type": "array", "items": {"type": "string"}},
        "last_triggered_at": _NULL_TIME,
        "trigger_count": {"type": "integer"},
        "created_at": _TIME,
        "updated_at": _TIME,
    }
    secret_props = {
        "webhook_id": {"type": "string"},
        "secret": {"type": "string", "description": "`whsec_...`; shown only on create and rotate"},
        **webhook_props,
    }
    return {
        "WebhookCreate": create,
        "WebhookSdkTrigger": obj({"payload": {"type": ["object", "null"]}}),
        "Webhook": obj(webhook_props, tuple(webhook_props)),
        "WebhookWithSecret": obj(secret_props, tuple(secret_props)),
        "WebhookTriggerResult": obj(
            {
                "execution_id": {"type": "string"},
                "webhook_id": {"type": "string"},
                "message_id": {"type": "string"},
                "triggered_at": _TIME,
                "duplicate": {
                    "type": "boolean",
                    "description": "true: a repeat of a message already started",
                },
            },
            ("execution_id", "webhook_id", "message_id", "triggered_at", "duplicate"),
        ),
    }


def _event_schemas() -> dict[str, Schema]:
    tags_filter = nullable(ref("Tags"))
    options: dict[str, Schema] = {
        "name": _NAME,
        "description": _DESCRIPTION,
        "event_type": {"type": "string", "enum": list(EVENT_TYPES)},
        "filter": nullable(
            obj(
                {
                    "pipeline_id": {"type": ["string", "null"], "maxLength": 200, "pattern": NON_BLANK},
                    "tags": tags_filter,
                }
            )
        ),
        "params": _PARAMS,
        "priority": _PRIORITY,
        "tags": nullable(ref("Tags")),
        "is_active": {"type": "boolean"},
        "max_chain_depth": {"type": "integer", "minimum": 1, "maximum": MAX_CHAIN_DEPTH},
        "allow_cycles": {"type": "boolean"},
    }
    create = obj(
        {"pipeline_id": _ID, "workflow_id": _ID, **options},
        ("name", "event_type"),
        oneOf=[
            {"required": ["pipeline_id"], "not": {"required": ["workflow_id"]}},
            {"required": ["workflow_id"], "not": {"required": ["pipeline_id"]}},
        ],
    )
    props: dict[str, Schema] = {
        "id": {"type": "string"},
        "pipeline_id": {"type": "string"},
        "workflow_id": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "event_type": {"type": "string", "enum": list(EVENT_TYPES)},
        "filter": {"type": "object"},
        "params": {"type": "object"},
        "priority": _PRIORITY,
        "tags": {"type": "array", "items": {"type": "string"}},
        "is_active": {"type": "boolean"},
        "max_chain_depth": {"type": "integer"},
        "allow_cycles": {"type": "boolean"},
        "fire_count": {"type": "integer"},
        "last_fired_at": _NULL_TIME,
        "created_at": _TIME,
        "updated_at": _TIME,
    }
    firing = obj(
        {
            "source_execution_id": {"type": "string"},
            "status": {"type": "string", "enum": ["fired", "skipped", "failed"]},
            "reason": {"type": ["string", "null"]},
            "execution_id": {"type": ["string", "null"]},
            "recorded_at": {"type": "string"},
        },
        ("source_execution_id", "status", "reason", "execution_id", "recorded_at"),
    )
    return {
        "EventTriggerCreate": create,
        "EventTriggerUpdate": obj(options),
        "EventTrigger": obj(props, tuple(props)),
        "EventFirings": obj(
            {"items": {"type": "array", "items": firing}, "total": {"type": "integer"}}, ("items", "total")
        ),
    }


def _paged(item: str) -> Schema:
    return obj(
        {
            "items": {"type": "array", "items": ref(item)},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
        },
        ("items", "total", "limit", "offset", "page", "per_page"),
    )


def trigger_schemas() -> dict[str, Schema]:
    """Every schema of the trigger routes, for ``components.schemas``."""
    return {
        **_schedule_requests(),
        **_schedule_answers(),
        **_webhook_schemas(),
        **_event_schemas(),
        "SchedulePage": _paged("Schedule"),
        "WebhookPage": _paged("Webhook"),
        "EventTriggerPage": _paged("EventTrigger"),
    }
