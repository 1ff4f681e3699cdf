"""Answer side of the document: model schemas, answers, websocket frames, errors, headers.

The wire models' schemas are derived from their attrs classes; the shapes routes build by hand
(pages, progress, deliveries, batch results, frames) are written here.
"""

from __future__ import annotations

from budai_async.models import (
    Action,
    ActionParam,
    Execution,
    ExecutionStatus,
    LogEntry,
    Pipeline,
    StepRun,
    ValidationIssue,
    ValidationResult,
)
from budai_server.openapi.gateway import (
    execution_wire_schema,
    gateway_answer_schemas,
    progress_counts_properties,
)
from budai_server.openapi.schema import STRING, Schema, model_schema, obj, ref
from budai_server.outbox.rules import EVENT_COMPLETED, EVENT_FAILED, DeliveryStatus
from budai_server.routes.watch import MAX_IDS_PER_MESSAGE

__all__ = ["ERROR_STATUSES", "MODELS", "answer_schemas", "headers", "responses"]

MODELS: dict[type, str] = {
    Pipeline: "Pipeline",
    Execution: "Execution",
    StepRun: "StepRun",
    LogEntry: "LogLine",
    Action: "Action",
    ActionParam: "ActionParam",
    ValidationIssue: "ValidationIssue",
    ValidationResult: "ValidationResult",
}

ERROR_STATUSES = {
    400: "The body is not a JSON object (`invalid_json`), a header is malformed, or a websocket route "
    "was called without the upgrade (`websocket_required`).",
    401: "Missing or wrong API key (only when the server has one).",
    404: "Unknown pipeline, execution or action.",
    409: "The resource is in a state that forbids this (see `code`), or a request with the same "
    "`Idempotency-Key` is still being handled (`idempotency_key_in_progress`).",
    413: "The body is larger than the server accepts.",
    422: "A field, query parameter or header is invalid; `details` lists every fault as "
    "`{path, message, code}`.",
    503: "The server is not accepting executions right now (shutting down); retry after `Retry-After`.",
}

_EXECUTION_STATUSES = [str(status) for status in ExecutionStatus]


def _page(item: Schema, **more: Schema) -> Schema:
    return obj({"items": {"type": "array", "items": item}, **more}, ("items", *more))


def _model_schemas() -> dict[str, Schema]:
    execution = model_schema(
        Execution,
        MODELS,
        descriptions={
            "pipeline_id": "null for an ephemeral run (`POST /budpipeline/run`)",
            "completed_steps": "steps that completed successfully",
            "retry_of": "the execution this one retries",
        },
    )
    execution_wire_schema(execution)
    return {
        "Pipeline": model_schema(
            Pipeline,
            MODELS,
            descriptions={"definition": "the definition exactly as submitted"},
            extra={"dag": {"type": "object", "description": "the gateway's name: the same definition"}},
        ),
        "Execution": execution,
        "StepRun": model_schema(StepRun, MODELS),
        "LogLine": model_schema(LogEntry, MODELS, descriptions={"seq": "1, 2, 3 ... per execution"}),
        "Action": model_schema(Action, MODELS),
        "ActionParam": model_schema(ActionParam, MODELS),
        "ValidationIssue": model_schema(ValidationIssue, MODELS),
        "ValidationResult": model_schema(ValidationResult, MODELS),
    }


def _error_schemas() -> dict[str, Schema]:
    issue = obj(
        {
            "path": STRING,
            "message": STRING,
            "code": STRING,
            "limit": {**STRING, "description": "code `over_limit`: the configured limit's name"},
            "maximum": {"type": "number", "description": "code `over_limit`: the limit's value"},
            "rule": {**STRING, "description": "code `outbound_refused`: the outbound policy's rule"},
        },
        ("path", "message", "code"),
        description="One fault: `path` names the field (`tags[2]`, `definition.steps[0].action`, `limit`).",
    )
    issues = {"type": "array", "minItems": 1, "items": ref("FieldIssue")}

    def error(details: Schema, description: str, **more: Schema) -> Schema:
        fields = {
            "code": {**STRING, "description": "machine-readable: `validation_error`, `not_found` ..."},
            "message": STRING,
            "details": details,
            **more,
        }
        return obj({"error": obj(fields, tuple(fields))}, ("error",), description=description)

    return {
        "FieldIssue": issue,
        "Error": error(
            {"description": "a list of `FieldIssue` for 422; an object or null otherwise"},
            "The one error shape of the API: every 4xx and 5xx body.",
        ),
        "ValidationError": error(issues, "The `Error` shape of a 422: `details` lists every fault."),
        "BatchItemError": error(
            issues,
            "Why one batch item was refused.",
            field={**STRING, "description": "the first faulty field, e.g. `items[3].priority`"},
        )["properties"]["error"],
    }


def _answer_schemas() -> dict[str, Schema]:
    progress_step = model_schema(
        StepRun,
        MODELS,
        extra={
            "step_id": STRING,
            "step_name": STRING,
            "action": {"type": ["string", "null"]},
            "sequence_number": {"type": "integer", "minimum": 1},
        },
    )
    aggregated = obj(
        {
            "overall_progress": {"type": "number", "minimum": 0, "maximum": 100},
            "completed_steps": {"type": "integer"},
            "total_steps": {"type": "integer"},
            "current_step": {"type": ["string", "null"]},
            "running_steps": {"type": "array", "items": STRING},
            "eta_seconds": {"type": ["number", "null"], "minimum": 0},
        },
        (
            "overall_progress",
            "completed_steps",
            "total_steps",
            "current_step",
            "running_steps",
            "eta_seconds",
        ),
    )
    attempt = obj(
        {
            "number": {"type": "integer", "minimum": 1},
            "started_at": {"type": ["string", "null"], "format": "date-time"},
            "duration_seconds": {"type": ["number", "null"]},
            "status_code": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
            "outcome": STRING,
        },
        ("number", "started_at", "duration_seconds", "status_code", "error", "outcome"),
    )
    when = {"type": ["string", "null"], "format": "date-time"}
    delivery = obj(
        {
            "id": {**STRING, "description": "the `webhook-id` header, the same on every attempt"},
            "execution_id": STRING,
            "type": {"type": "string", "enum": [EVENT_COMPLETED, EVENT_FAILED]},
            "url": STRING,
            "status": {"type": "string", "enum": [status.value for status in DeliveryStatus]},
            "attempt_count": {"type": "integer", "minimum": 0},
            "max_attempts": {"type": "integer", "minimum": 0},
            "next_attempt_at": when,
            "last_status_code": {"type": ["integer", "null"]},
            "last_error": {"type": ["string", "null"]},
            "created_at": when,
            "updated_at": when,
            "attempts": {"type": "array", "items": attempt},
        },
        (
            "id",
            "execution_id",
            "type",
            "url",
            "status",
            "attempt_count",
            "max_attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "updated_at",
            "attempts",
        ),
    )
    created = obj(
        {
            "index": {"type": "integer", "minimum": 0},
            "status": {"type": "integer", "enum": [200, 201]},
            "execution": ref("Execution"),
            "replayed": {"const": True},
        },
        ("index", "status", "execution"),
    )
    refused = obj(
        {
            "index": {"type": "integer", "minimum": 0},
            "status": {"type": "integer", "minimum": 400, "maximum": 499},
            "error": ref("BatchItemError"),
        },
        ("index", "status", "error"),
    )
    count = {"type": "integer", "minimum": 0}
    return {
        "PipelinePage": _page(ref("Pipeline"), total=count, limit=count, offset=count),
        "ExecutionPage": _page(
            ref("Execution"),
            total=count,
            limit=count,
            offset=count,
            next_cursor={"type": ["string", "null"], "description": "pass as `cursor` for the next page"},
        ),
        "ActionPage": obj(
            {"actions": {"type": "array", "items": ref("Action")}, "total": count},
            ("actions", "total"),
            description="The gateway's catalogue shape (`actions`, not `items`).",
        ),
        "LogPage": _page(
            ref("LogLine"),
            next_seq={"type": ["integer", "null"], "description": "pass as `after_seq`; null: no more now"},
        ),
        "DeliveryPage": _page(delivery, total=count),
        "Progress": obj(
            {
                "execution": ref("Execution"),
                "steps": {"type": "array", "items": progress_step},
                "aggregated_progress": aggregated,
                **progress_counts_properties(),
            },
            ("execution", "steps", "aggregated_progress", *progress_counts_properties()),
            description="The real gateway's progress view (steps in definition order) with the official "
            "SDK's `ExecutionProgress` counts at the top level.",
        ),
        "BatchResult": obj(
            {
                "items": {"type": "array", "items": {"oneOf": [created, refused]}},
                "created": count,
                "replayed": count,
                "failed": count,
            },
            ("items", "created", "replayed", "failed"),
            description="One result per item, in input order.",
        ),
        "WaitResult": obj(
            {
                "items": {"type": "array", "items": ref("Execution")},
                "pending": {"type": "array", "items": STRING},
                "unknown": {"type": "array", "items": STRING},
            },
            ("items", "pending", "unknown"),
        ),
        "Health": obj({"status": {"const": "ok"}}, ("status",)),
        "Readiness": obj(
            {
                "status": {"type": "string", "enum": ["ready", "not_ready"]},
                "checks": {"type": "object", "additionalProperties": STRING},
            },
            ("status", "checks"),
        ),
    }


def _frame_schemas() -> dict[str, Schema]:
    """Websocket frames (JSON text), referenced from the routes' `x-websocket` extension."""
    seq = {"type": "integer", "minimum": 0}
    count = {"type": "integer", "minimum": 0}

    def frame(kind: str, **fields: Schema) -> Schema:
        return obj({"type": {"const": kind}, **fields}, ("type", *fields))

    return {
        "LogStreamFrame": {
            "oneOf": [
                frame("lines", items={"type": "array", "minItems": 1, "items": ref("LogLine")}),
                frame("heartbeat", last_seq=seq),
                frame("end", status={"type": "string", "enum": _EXECUTION_STATUSES}, last_seq=seq),
            ]
        },
        "WatchServerFrame": {
            "oneOf": [
                frame("subscribed", ids=count, unknown={"type": "array", "items": STRING}),
                frame("unsubscribed", ids=count),
                frame("executions", items={"type": "array", "minItems": 1, "items": ref("Execution")}),
                frame("heartbeat", awaiting=count, sent=count),
                frame(
                    "error",
                    error=obj(
                        {"code": STRING, "message": STRING, "details": {}}, ("code", "message", "details")
                    ),
                ),
            ]
        },
        "WatchClientFrame": obj(
            {
                "type": {"type": "string", "enum": ["subscribe", "unsubscribe"]},
                "ids": {"type": "array", "minItems": 1, "maxItems": MAX_IDS_PER_MESSAGE, "items": STRING},
            },
            ("type", "ids"),
        ),
    }


def answer_schemas() -> dict[str, Schema]:
    """The response body and websocket frame schemas."""
    return {
        **_model_schemas(),
        **_error_schemas(),
        **_answer_schemas(),
        **_frame_schemas(),
        **gateway_answer_schemas(),
    }


def headers() -> dict[str, Schema]:
    """The shared response headers of ``components.headers``."""
    return {
        "X-Request-ID": {
            "required": True,
            "schema": STRING,
            "description": "The request's id: the client's own `X-Request-ID` when it is 1-128 characters "
            "of `[A-Za-z0-9._:-]`, else one made by the server. Logged with any server error.",
        },
        "Retry-After": {"schema": {"type": "string"}, "description": "seconds to wait before retrying"},
        "WWW-Authenticate": {"required": True, "schema": STRING},
        "Idempotent-Replayed": {
            "schema": {"const": "true"},
            "description": "present when this is a stored answer replayed for an `Idempotency-Key`",
        },
    }


def responses() -> dict[str, Schema]:
    """The shared error responses ``Error400`` ... ``Error503`` of ``components.responses``."""
    extra: dict[int, dict[str, Schema]] = {
        401: {"WWW-Authenticate": {"$ref": "#/components/headers/WWW-Authenticate"}},
        409: {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
        503: {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
    }
    return {
        f"Error{status}": {
            "description": description,
            "headers": {
                "X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"},
                **extra.get(status, {}),
            },
            "content": {"application/json": {"schema": ref("ValidationError" if status == 422 else "Error")}},
        }
        for status, description in ERROR_STATUSES.items()
    }
