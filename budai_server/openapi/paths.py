"""The document's `paths`: every route the server registers, with its inputs and its answers.

`tests/contract/test_openapi.py` fails when a route is registered but missing here (or the
reverse), and runs the real server against every operation, so this table stays true.
"""

from __future__ import annotations

from typing import Any

from budai_async.models import ExecutionStatus
from budai_server.listing import SORT_FIELDS
from budai_server.openapi.operations import (
    REQUEST_ID,
    json_answer,
    links,
    operation,
    param,
    query,
    websocket,
)
from budai_server.openapi.schema import Schema, ref
from budai_server.routes.logs import REST_MAX_LIMIT
from budai_server.routes.watch import MAX_IDS_PER_MESSAGE

__all__ = ["paths"]

_EXECUTION_LINKS = {
    "GetExecution": "getExecution",
    "GetProgress": "getExecutionProgress",
    "CancelExecution": "cancelExecution",
    "RetryExecution": "retryExecution",
    "ListLogs": "listExecutionLogs",
    "ListCallbacks": "listExecutionCallbacks",
    "StreamLogs": "streamExecutionLogs",
}
_PIPELINE_LINKS = {
    "GetPipeline": "getPipeline",
    "UpdatePipeline": "updatePipeline",
    "ReplacePipeline": "replacePipeline",
    "DeletePipeline": "deletePipeline",
    "ExecutePipeline": "executePipeline",
    "ExecuteBatch": "executePipelineBatch",
}
_PIPELINE_LINKED = links(_PIPELINE_LINKS, "pipeline_id")
_EXAMPLE_DEFINITION = {
    "parameters": {"who": {"type": "string", "default": "world"}},
    "steps": [{"id": "greet", "action": "log", "params": {"message": "hello {{ params.who }}"}}],
}


def _service_paths() -> dict[str, Schema]:
    return {
        "/health": {
            "get": operation(
                "getHealth",
                "Liveness: answers while the process serves HTTP",
                "service",
                {"200": json_answer(ref("Health"), "The server is up.")},
                public=True,
            )
        },
        "/ready": {
            "get": operation(
                "getReadiness",
                "Readiness: the database answers and executions are admitted",
                "service",
                {
                    "200": json_answer(ref("Readiness"), "Ready."),
                    "503": json_answer(ref("Readiness"), "Not ready; `checks` says which part failed."),
                },
            )
        },
        "/metrics": {
            "get": operation(
                "getMetrics",
                "Prometheus text exposition",
                "service",
                {
                    "200": {
                        "description": "Counters, gauges and histograms (docs/server.md#metrics).",
                        "headers": REQUEST_ID,
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
        "/openapi.json": {
            "get": operation(
                "getOpenApiDocument",
                "This document",
                "service",
                {"200": json_answer({"type": "object", "required": ["openapi", "paths"]}, "OpenAPI 3.1.")},
                public=True,
            )
        },
    }


def _pipeline_paths() -> dict[str, Schema]:
    pipeline_id = (param("PipelineId"),)
    create_example = {"name": "hello", "definition": _EXAMPLE_DEFINITION, "tags": ["demo"]}
    return {
        "/budpipeline": {
            "post": operation(
                "createPipeline",
                "Create a pipeline",
                "pipelines",
                {
                    "201": json_answer(
                        ref("Pipeline"), "Created.", linked=links(_PIPELINE_LINKS, "pipeline_id")
                    )
                },
                body=ref("PipelineCreate"),
                example=create_example,
                post=True,
                description="The definition (alias `dag`) is validated first; 422 `invalid_definition` "
                "names each fault under the field that carried it.",
            ),
            "get": operation(
                "listPipelines",
                "List pipelines, newest first",
                "pipelines",
                {"200": json_answer(ref("PipelinePage"), "One page.")},
                errors=(422,),
                parameters=(
                    query("name_contains", {"type": "string"}, "case-insensitive name filter"),
                    param("Limit"),
                    param("Offset"),
                ),
            ),
        },
        "/budpipeline/validate": {
            "post": operation(
                "validatePipeline",
                "Check a definition without storing it",
                "pipelines",
                {"200": json_answer(ref("ValidationResult"), "The result (200 also when invalid).")},
                body=ref("ValidateRequest"),
                example={"definition": _EXAMPLE_DEFINITION},
                post=True,
            )
        },
        "/budpipeline/{pipeline_id}": {
            "get": operation(
                "getPipeline",
                "Get a pipeline",
                "pipelines",
                {"200": json_answer(ref("Pipeline"), "The pipeline.")},
                errors=(404,),
                parameters=pipeline_id,
            ),
            "patch": operation(
                "updatePipeline",
                "Change some fields of a pipeline",
                "pipelines",
                {"200": json_answer(ref("Pipeline"), "The updated pipeline (`version` + 1).")},
                errors=(404, 409),
                parameters=pipeline_id,
                body=ref("PipelinePatch"),
                example={"description": "says hello"},
                description="409 when another update of the same version won the race.",
            ),
            "put": operation(
                "replacePipeline",
                "Replace a pipeline",
                "pipelines",
                {"200": json_answer(ref("Pipeline"), "The replaced pipeline (`version` + 1).")},
                errors=(404, 409),
                parameters=pipeline_id,
                body=ref("PipelineCreate"),
                example=create_example,
                description="Fields not sent go back to their defaults.",
            ),
            "delete": operation(
                "deletePipeline",
                "Delete a pipeline (its executions stay)",
                "pipelines",
                {"204": {"description": "Deleted.", "headers": REQUEST_ID}},
                errors=(404,),
                parameters=pipeline_id,
            ),
        },
    }


def _execution_create_paths() -> dict[str, Schema]:
    created = json_answer(
        ref("Execution"), "Created and queued (`pending`).", linked=links(_EXECUTION_LINKS, "execution_id")
    )
    return {
        "/budpipeline/{pipeline_id}/execute": {
            "post": operation(
                "executePipeline",
                "Run a pipeline",
                "executions",
                {"201": created},
                errors=(404, 503),
                parameters=(param("PipelineId"),),
                body=ref("RunOptions"),
                body_required=False,
                example={"params": {"who": "you"}, "priority": "high", "tags": ["demo"]},
                post=True,
                description="`params` are checked against the definition's `parameters` (422 naming "
                "`params.NAME`); declared defaults are filled in.",
            )
        },
        "/budpipeline/{pipeline_id}/execute/batch": {
            "post": operation(
                "executePipelineBatch",
                "Run a pipeline many times in one request",
                "fan-out",
                {"200": json_answer(ref("BatchResult"), "One result per item; a faulty item fails alone.")},
                errors=(404, 413, 503),
                parameters=(param("PipelineId"),),
                body=ref("BatchRequest"),
                example={"defaults": {"tags": ["demo"]}, "items": [{"params": {"who": "a"}}, {}]},
                post=True,
                description="docs/batch.md. Only the envelope fails the request: 413 over the item or "
                "byte limit, 422 for a missing or empty `items`, an unknown field or bad `defaults`.",
            )
        },
        "/budpipeline/run": {
            "post": operation(
                "runDefinition",
                "Run a definition without storing a pipeline",
                "executions",
                {"201": created},
                errors=(503,),
                body=ref("RunRequest"),
                example={"pipeline_definition": _EXAMPLE_DEFINITION, "params": {"who": "there"}},
                post=True,
            )
        },
    }


def _execution_paths() -> dict[str, Schema]:
    execution_id = (param("ExecutionId"),)
    statuses = {"type": "string", "enum": [str(status) for status in ExecutionStatus]}
    return {
        "/budpipeline/executions": {
            "get": operation(
                "listExecutions",
                "List executions with filters, sort and paging",
                "executions",
                {"200": json_answer(ref("ExecutionPage"), "One page; `total` counts every match.")},
                errors=(422,),
                parameters=(
                    query("pipeline_id", {"type": "string"}, "only this pipeline's executions"),
                    query(
                        "status",
                        {"type": "array", "items": statuses},
                        "any of these statuses (repeat, or separate with commas)",
                        style="form",
                        explode=True,
                    ),
                    query(
                        "tags",
                        {"type": "array", "items": {"type": "string"}},
                        "executions carrying all of these tags (repeat, or separate with commas)",
                        style="form",
                        explode=True,
                    ),
                    query("created_after", ref("Instant"), "created at or after"),
                    query("created_before", ref("Instant"), "created before"),
                    query("sort_by", {"type": "string", "enum": list(SORT_FIELDS)}, "default created_at"),
                    query("sort_order", {"type": "string", "enum": ["asc", "desc"]}, "default desc"),
                    param("Limit"),
                    param("Offset"),
                    query(
                        "cursor",
                        {"type": "string"},
                        "the `next_cursor` of the previous page (keyset paging; not with `offset`)",
                    ),
                ),
            )
        },
        "/budpipeline/executions/{execution_id}": {
            "get": operation(
                "getExecution",
                "Get an execution, optionally waiting until it has ended",
                "executions",
                {
                    "200": json_answer(
                        ref("Execution"), "The execution (with `wait`: once ended or when the wait is over)."
                    )
                },
                errors=(404, 422),
                parameters=(
                    *execution_id,
                    query(
                        "wait",
                        {"type": "number", "minimum": 0},
                        "long-poll up to this many seconds, capped by the server's limit",
                    ),
                ),
            )
        },
        "/budpipeline/executions/{execution_id}/progress": {
            "get": operation(
                "getExecutionProgress",
                "Progress view: steps in definition order, aggregated progress, ETA",
                "executions",
                {"200": json_answer(ref("Progress"), "The progress view.")},
                errors=(404,),
                parameters=execution_id,
            )
        },
        "/budpipeline/executions/{execution_id}/cancel": {
            "post": operation(
                "cancelExecution",
                "Cancel an execution",
                "executions",
                {"200": json_answer(ref("Execution"), "The final state.")},
                errors=(404,),
                parameters=execution_id,
                body=ref("CancelRequest"),
                body_required=False,
                post=True,
                description="409 `execution_finished` when it had already ended.",
            )
        },
        "/budpipeline/executions/{execution_id}/retry": {
            "post": operation(
                "retryExecution",
                "Run an ended execution again",
                "executions",
                {
                    "201": json_answer(
                        ref("Execution"),
                        "The new execution, `retry_of` set.",
                        linked=links(_EXECUTION_LINKS, "execution_id"),
                    )
                },
                errors=(404, 503),
                parameters=execution_id,
                body=ref("RunOptions"),
                body_required=False,
                post=True,
                description="Runs the original's definition snapshot; `params` sent are merged over the "
                "original ones, other options not sent are copied. 409 `execution_not_finished` "
                "while the original runs.",
            )
        },
        "/budpipeline/executions/{execution_id}/callbacks": {
            "get": operation(
                "listExecutionCallbacks",
                "Callback deliveries of an execution, with every attempt",
                "callbacks",
                {"200": json_answer(ref("DeliveryPage"), "Deliveries, oldest first.")},
                errors=(404,),
                parameters=execution_id,
            )
        },
    }


def _log_paths() -> dict[str, Schema]:
    execution_id = param("ExecutionId")
    filters = (param("LogLevel"), param("LogStepId"), param("LogSince"), param("LogAfterSeq"))
    return {
        "/budpipeline/executions/{execution_id}/logs": {
            "get": operation(
                "listExecutionLogs",
                "Read an execution's log lines",
                "logs",
                {"200": json_answer(ref("LogPage"), "Lines in seq order.")},
                errors=(404, 422),
                parameters=(
                    execution_id,
                    *filters,
                    query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": REST_MAX_LIMIT},
                        "page size, default 1000",
                    ),
                ),
            )
        },
        "/budpipeline/executions/{execution_id}/logs/stream": {
            "get": websocket(
                "streamExecutionLogs",
                "Follow an execution's log lines live (websocket)",
                "logs",
                parameters=(execution_id, *filters),
                server_frames="LogStreamFrame",
                client_frames=None,
                close_codes={
                    "1000": "after the `end` frame",
                    "1001": "the server is shutting down: reconnect with `after_seq`",
                    "4008": "this reader fell too far behind: reconnect at once with `after_seq`",
                },
                description="docs/logs.md: the backlog, then live lines, heartbeats while idle and one "
                "`end` frame once the execution has ended. Query faults and unknown executions are "
                "answered before the upgrade.",
                errors=(404, 422),
            )
        },
    }


def _fan_out_paths() -> dict[str, Schema]:
    return {
        "/budpipeline/executions/watch": {
            "get": websocket(
                "watchExecutions",
                "Be told when executions end (websocket)",
                "fan-out",
                parameters=(
                    query(
                        "ids",
                        {"type": "array", "items": {"type": "string"}, "maxItems": MAX_IDS_PER_MESSAGE},
                        "execution ids to await (repeat, or separate with commas)",
                        style="form",
                        explode=True,
                    ),
                    query("pipeline_id", {"type": "string"}, "await every execution of this pipeline"),
                    query(
                        "tag",
                        {"type": "array", "items": {"type": "string"}},
                        "await every execution carrying all of these tags (alias `tags`)",
                        style="form",
                        explode=True,
                    ),
                    query(
                        "since",
                        ref("Instant"),
                        "with `pipeline_id` or `tag`: also send matching executions created since then "
                        "that have already ended",
                    ),
                    query("heartbeat", {"type": "number", "minimum": 0.05}, "seconds, default 15"),
                ),
                server_frames="WatchServerFrame",
                client_frames="WatchClientFrame",
                close_codes={
                    "1001": "the server is shutting down: reconnect and subscribe again",
                    "4008": "the reader fell too far behind: subscribe again",
                },
                description="docs/batch.md: every awaited execution is sent once, when it has ended.",
                errors=(422,),
            )
        },
        "/budpipeline/executions/wait": {
            "post": operation(
                "waitExecutions",
                "Long-poll until any of some executions has ended",
                "fan-out",
                {"200": json_answer(ref("WaitResult"), "Ended, pending and unknown ids.")},
                errors=(413,),
                body=ref("WaitRequest"),
                example={"ids": ["exec_00000000000000000000000000000000"], "timeout": 0},
                post=True,
                description="Answers at once when some had already ended, else at the first end or "
                "when `timeout` passes. 413 over the id limit.",
            )
        },
    }


def _action_paths() -> dict[str, Schema]:
    return {
        "/budpipeline/actions": {
            "get": operation(
                "listActions",
                "The action catalogue, with param schemas",
                "actions",
                {"200": json_answer(ref("ActionPage"), "Every action this server can run, sorted by type.")},
            )
        },
        "/budpipeline/actions/{action_type}": {
            "get": operation(
                "getAction",
                "One action (an alias resolves to its action)",
                "actions",
                {"200": json_answer(ref("Action"), "The action.")},
                errors=(404,),
                parameters=(
                    {
                        "name": "action_type",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    },
                ),
            )
        },
    }


def paths() -> dict[str, Any]:
    """The `paths` object: every route of the server."""
    found: dict[str, Any] = {}
    for part in (
        _service_paths(),
        _pipeline_paths(),
        _execution_create_paths(),
        _execution_paths(),
        _log_paths(),
        _fan_out_paths(),
        _action_paths(),
    ):
        found.update(part)
    return found
