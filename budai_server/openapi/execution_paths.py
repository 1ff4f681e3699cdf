"""The document's execution routes: create (execute, run), read, list, cancel, retry, and logs."""

from __future__ import annotations

from budai_async.models import ExecutionStatus
from budai_server.listing import SORT_FIELDS
from budai_server.openapi.gateway import page_parameters
from budai_server.openapi.operations import (
    json_answer,
    links,
    operation,
    param,
    query,
    websocket,
)
from budai_server.openapi.schema import Schema, ref
from budai_server.routes.logs import REST_MAX_LIMIT

__all__ = ["EXAMPLE_DEFINITION", "execution_create_paths", "execution_paths", "log_paths"]

EXAMPLE_DEFINITION = {
    "parameters": {"who": {"type": "string", "default": "world"}},
    "steps": [{"id": "greet", "action": "log", "params": {"message": "hello {{ params.who }}"}}],
}
_EXECUTION_LINKS = {
    "GetExecution": "getExecution",
    "GetProgress": "getExecutionProgress",
    "CancelExecution": "cancelExecution",
    "RetryExecution": "retryExecution",
    "ListLogs": "listExecutionLogs",
    "ListCallbacks": "listExecutionCallbacks",
    "StreamLogs": "streamExecutionLogs",
}


def execution_create_paths() -> dict[str, Schema]:
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
                example={"pipeline_definition": EXAMPLE_DEFINITION, "params": {"who": "there"}},
                post=True,
            )
        },
    }


def execution_paths() -> dict[str, Schema]:
    execution_id = (param("ExecutionId"),)
    statuses = {"type": "string", "enum": [*(str(status) for status in ExecutionStatus), "timed_out"]}
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
                    *page_parameters(),
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
                        "long-poll up to this many seconds; over the server's "
                        "`long_poll_max_seconds`: 422 `over_limit`",
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
        "/budpipeline/executions/{execution_id}/steps": {
            "get": operation(
                "getExecutionSteps",
                "The steps of an execution as step objects, in definition order",
                "executions",
                {"200": json_answer(ref("StepPage"), "Every step (the official SDK's `get_steps`).")},
                errors=(404,),
                parameters=execution_id,
            )
        },
        "/budpipeline/executions/{execution_id}/events": {
            "get": operation(
                "getExecutionEvents",
                "Lifecycle events of an execution, oldest first",
                "executions",
                {"200": json_answer(ref("EventPage"), "Events derived from the step states (stable ids).")},
                errors=(404,),
                parameters=(*execution_id, query("step_id", {"type": "string"}, "only this step's events")),
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
                "original ones (a key sent as null is removed), other options not sent are copied. "
                "409 `execution_not_finished` while the original runs.",
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


def log_paths() -> dict[str, Schema]:
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
