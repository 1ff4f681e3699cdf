"""The document's `paths`: every route the server registers, with its inputs and its answers.

`tests/contract/test_openapi.py` fails when a route is registered but missing here (or the
reverse), and runs the real server against every operation, so this table stays true.
"""

from __future__ import annotations

from typing import Any

from budai_server.openapi.cleanup_paths import cleanup_paths
from budai_server.openapi.execution_paths import (
    EXAMPLE_DEFINITION,
    execution_create_paths,
    execution_paths,
    log_paths,
)
from budai_server.openapi.gateway import page_parameters
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
from budai_server.openapi.trigger_paths import trigger_paths
from budai_server.routes.watch import MAX_IDS_PER_MESSAGE

__all__ = ["paths"]

_PIPELINE_LINKS = {
    "GetPipeline": "getPipeline",
    "UpdatePipeline": "updatePipeline",
    "ReplacePipeline": "replacePipeline",
    "DeletePipeline": "deletePipeline",
    "ExecutePipeline": "executePipeline",
    "ExecuteBatch": "executePipelineBatch",
}
_PIPELINE_LINKED = links(_PIPELINE_LINKS, "pipeline_id")


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
    create_example = {"name": "hello", "definition": EXAMPLE_DEFINITION, "tags": ["demo"]}
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
                    *page_parameters(),
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
                example={"definition": EXAMPLE_DEFINITION},
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
                errors=(413, 422),
                body=ref("WaitRequest"),
                example={"ids": ["exec_00000000000000000000000000000000"], "timeout": 0},
                post=True,
                description="Answers at once when some had already ended, else at the first end or "
                "when `timeout` passes. 413 over the id limit; 422 `over_limit` for a `timeout` over the "
                "server's `long_poll_max_seconds`.",
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
        execution_create_paths(),
        execution_paths(),
        log_paths(),
        _fan_out_paths(),
        _action_paths(),
        trigger_paths(),
        cleanup_paths(),
    ):
        for path, methods in part.items():
            found.setdefault(path, {}).update(methods)
    return found
