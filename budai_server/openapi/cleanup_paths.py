"""The document's deletion routes (`budai_server.routes.cleanup`): one execution, or many by filter."""

from __future__ import annotations

from budai_server.openapi.operations import REQUEST_ID, json_answer, operation, param
from budai_server.openapi.schema import Schema, obj, ref
from budai_server.store.cleanup import ENDED_STATUSES

__all__ = ["cleanup_paths"]

_ENDED = {"type": "string", "enum": list(ENDED_STATUSES)}
_FILTERS: dict[str, Schema] = {
    "pipeline_id": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
    "status": {"anyOf": [_ENDED, {"type": "array", "items": _ENDED, "minItems": 1}]},
    "tags": {"allOf": [ref("Tags")], "minItems": 1},
    "created_after": ref("Instant"),
    "created_before": ref("Instant"),
}


def _delete_request() -> Schema:
    return obj(
        {**_FILTERS, "dry_run": {"type": "boolean", "description": "only count what would be deleted"}},
        anyOf=[{"required": [name]} for name in _FILTERS],
        description="Ended executions matching every filter given are deleted (at least one filter).",
    )


def cleanup_paths() -> dict[str, dict[str, Schema]]:
    """Operations by path; merged into paths that already have other methods."""
    deleted = obj(
        {
            "deleted": {
                "type": "integer",
                "minimum": 0,
                "description": "executions deleted (or, dry run, matched)",
            },
            "dry_run": {"type": "boolean"},
        },
        ("deleted", "dry_run"),
    )
    return {
        "/budpipeline/executions/{execution_id}": {
            "delete": operation(
                "deleteExecution",
                "Delete an ended execution with its logs and callbacks",
                "executions",
                {"204": {"description": "Deleted.", "headers": REQUEST_ID}},
                errors=(404, 409),
                parameters=(param("ExecutionId"),),
                description="409 `execution_not_finished` while it is pending or running (cancel it "
                "first). Its log lines, callback deliveries and their attempts are deleted too.",
            )
        },
        "/budpipeline/executions/delete": {
            "post": operation(
                "deleteExecutions",
                "Delete ended executions matching a filter",
                "executions",
                {"200": json_answer(deleted, "How many executions were deleted (or would be).")},
                body=_delete_request(),
                example={"status": ["failed", "cancelled"], "created_before": "2024-01-01"},
                post=True,
                description="Pending and running executions are never deleted. Each deleted execution's "
                "log lines, callback deliveries and attempts go with it. `dry_run` only counts.",
            )
        },
    }
