"""The OpenAPI document: served, complete, well-formed, derived from the models, and true.

* every route the app registers is documented, and every documented operation is registered;
* `/openapi.json` serves the document without an API key;
* model schemas follow the attrs classes (pure table tests of the derivation, and real instances
  validate against the document);
* Schemathesis, run against the real server, finds no answer that breaks the document (statuses,
  headers, content types, bodies, auth, methods; valid data accepted and invalid data refused,
  except where `openapi_hooks` names a check a schema cannot state).
"""

from __future__ import annotations

import asyncio
import enum
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from jsonschema import Draft202012Validator
from openapi_contract import Contract, operations
from openapi_hooks import keep_failure

from budai_async._convert import to_json_dict
from budai_async.models import (
    Action,
    Execution,
    ExecutionStatus,
    LogEntry,
    Pipeline,
    Priority,
    StepRun,
    ValidationIssue,
    ValidationResult,
)
from budai_server.openapi import DOCUMENT_PATH, build_document
from budai_server.openapi.answers import MODELS
from budai_server.openapi.schema import model_schema, nullable, type_schema

KEY = "openapi-key"
HOOKS = Path(__file__).with_name("openapi_hooks.py")
SCHEMATHESIS_CONFIG = """\
[checks.negative_data_rejection]
expected-statuses = [400, 401, 404, 405, 409, 413, 422]
"""


def registered_routes(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path) of every route; HEAD is left out where aiohttp added it beside a GET."""
    found = set()
    for resource in app.router.resources():
        methods = {route.method for route in resource}
        for method in methods:
            if method == "HEAD" and "GET" in methods:
                continue
            found.add((method, resource.canonical))
    return found


def test_every_registered_route_is_documented_and_nothing_else(server_app: web.Application) -> None:
    documented = {(method, path) for method, path, _op in operations(build_document())}
    registered = registered_routes(server_app)
    assert registered - documented == set(), "registered but not documented"
    assert documented - registered == set(), "documented but not registered"


def test_operations_are_named_once_and_every_reference_resolves() -> None:
    document = build_document()
    ids = [operation["operationId"] for _m, _p, operation in operations(document)]
    assert len(ids) == len(set(ids))
    contract = Contract(document)

    def walk(node: Any, pointer: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                contract.resolve(node, pointer)
            for key, value in node.items():
                walk(value, f"{pointer}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{pointer}/{index}")

    walk(document, "")
    for name, schema in document["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        contract.validator(f"/components/schemas/{name}")  # builds: the refs inside resolve


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/budpipeline/run", "POST"),
        ("DELETE", "/budpipeline/executions", "GET,HEAD"),
        ("PATCH", "/budpipeline/actions", "GET,HEAD"),
        ("GET", "/budpipeline/validate", "POST"),
        ("GET", "/budpipeline/executions/wait", "POST"),
        ("GET", "/budpipeline/executions/delete", "POST"),
        ("DELETE", "/budpipeline/executions/delete", "POST"),
        ("POST", "/budpipeline/executions/watch", "GET,HEAD"),
    ],
)
async def test_fixed_paths_are_never_read_as_ids(api: Any, method: str, path: str, allowed: str) -> None:
    """`PUT /budpipeline/run` is a wrong method (405 naming the right ones), not a pipeline named "run"."""
    response = await api.request(method, path, json={})
    assert response.status == 405, await response.text()
    assert response.headers["Allow"] == allowed


async def test_document_is_served_without_api_key(make_bud_server: Any, aiohttp_client: Any) -> None:
    server: TestServer = await make_bud_server(api_key=KEY)
    client = await aiohttp_client(server)
    response = await client.get(DOCUMENT_PATH)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.headers["X-Request-ID"]
    assert await response.json() == build_document()
    assert (await client.get("/budpipeline")).status == 401  # the exemption is this path only


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen(kw_only=True)
class Leaf:
    """A leaf."""

    size: int


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (datetime, {"type": "string", "format": "date-time"}),
        (Any, {}),
        (Colour, {"type": "string", "enum": ["red", "blue"]}),
        (str | None, {"type": ["string", "null"]}),
        (Colour | None, {"type": ["string", "null"], "enum": ["red", "blue", None]}),
        (Leaf, {"$ref": "#/components/schemas/TheLeaf"}),
        (Leaf | None, {"anyOf": [{"$ref": "#/components/schemas/TheLeaf"}, {"type": "null"}]}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (dict[str, Any], {"type": "object", "additionalProperties": True}),
        (
            dict[str, Leaf],
            {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/TheLeaf"}},
        ),
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    ],
)
def test_type_schema(hint: Any, expected: dict[str, Any]) -> None:
    assert type_schema(hint, {Leaf: "TheLeaf"}) == expected


@pytest.mark.parametrize("hint", [bytes, dict[int, str], tuple[int, int], set[str]])
def test_type_schema_refuses_what_it_cannot_describe(hint: Any) -> None:
    with pytest.raises(TypeError, match="no JSON schema"):
        type_schema(hint, {})


def test_nullable_keeps_a_schema_that_already_admits_null() -> None:
    assert nullable({}) == {}
    assert nullable({"type": ["string", "null"]}) == {"type": ["string", "null"]}


def test_model_schema_lists_every_attribute_as_required_and_closed() -> None:
    schema = model_schema(Leaf, {}, extra={"rank": {"type": "integer"}}, descriptions={"size": "how big"})
    assert schema == {
        "type": "object",
        "properties": {"size": {"type": "integer", "description": "how big"}, "rank": {"type": "integer"}},
        "required": ["size", "rank"],
        "additionalProperties": False,
        "description": "A leaf.",
    }


# Keys `budai_async._wire` writes beside a model's own fields (docs/compatibility.md).
WIRE_EXTRAS = {"Pipeline": ["dag"], "Execution": ["progress_percentage", "duration_ms"]}


def test_model_schemas_in_the_document_follow_the_attrs_classes() -> None:
    schemas = build_document()["components"]["schemas"]
    for model, name in MODELS.items():
        expected = [field.name for field in attrs.fields(model)] + WIRE_EXTRAS.get(name, [])
        assert list(schemas[name]["properties"]) == expected, name


NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SAMPLES: list[Any] = [
    Pipeline(id="pipe_1", name="p", description=None, created_at=NOW, updated_at=NOW),
    Execution(
        id="exec_1",
        status=ExecutionStatus.COMPLETED,
        priority=Priority.HIGH,
        steps={"a": StepRun(attempts=1, started_at=NOW, completed_at=NOW, duration_seconds=0.1)},
        created_at=NOW,
        callbacks={"on_complete": "https://example.test/cb"},
    ),
    LogEntry(seq=1, timestamp=NOW, message="hi", step_id="a", execution_id="exec_1"),
    Action(type="log", aliases=["print"], params_schema={"type": "object"}, outputs=["logged"]),
    ValidationResult(valid=False, errors=[ValidationIssue(path="steps", message="missing", code="missing")]),
]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda sample: type(sample).__name__)
def test_unstructured_models_validate_against_their_schema(sample: Any) -> None:
    contract = Contract(build_document())
    contract.validate(f"/components/schemas/{MODELS[type(sample)]}", to_json_dict(sample))


def _error(code: str, *paths: str) -> dict[str, Any]:
    details = [{"path": path, "message": "m", "code": "c"} for path in paths]
    return {"error": {"code": code, "message": "m", "details": details}}


def _limit_error(path: str, detail_code: str) -> dict[str, Any]:
    return {
        "error": {
            "code": "validation_error",
            "message": "m",
            "details": [{"path": path, "message": "m", "code": detail_code}],
        }
    }


@pytest.mark.parametrize(
    ("code", "operation", "status", "body", "kept"),
    [
        ("ST202", "createPipeline", 422, _error("invalid_definition", "definition.steps[0].action"), False),
        ("ST202", "executePipeline", 422, _error("idempotency_key_reused", "Idempotency-Key"), False),
        ("ST202", "executePipeline", 422, _error("validation_error", "params.who"), False),
        ("ST202", "listExecutions", 422, _error("validation_error", "cursor"), False),
        ("ST202", "streamExecutionLogs", 400, _error("websocket_required"), False),
        ("ST202", "executePipeline", 422, _error("validation_error", "priority"), True),
        ("ST202", "getExecution", 422, _limit_error("wait", "over_limit"), False),
        ("ST202", "runPipeline", 422, _limit_error("callbacks.on_complete", "outbound_refused"), False),
        ("ST202", "getExecution", 422, _limit_error("wait", "range"), True),
        ("ST202", "updatePipeline", 422, _limit_error("", "empty"), False),
        ("ST202", "executePipeline", 422, _error("validation_error", "params.who", "tags[0]"), True),
        ("ST202", "createPipeline", 400, _error("invalid_json"), True),
        ("ST202", "createPipeline", 500, _error("internal_error"), True),
        ("ST202", "createPipeline", 422, None, True),
        (
            "ST201",
            "executePipelineBatch",
            200,
            {"items": [], "created": 0, "replayed": 0, "failed": 1},
            False,
        ),
        ("ST201", "executePipelineBatch", 200, {"items": [], "created": 1, "replayed": 0, "failed": 0}, True),
        ("ST201", "executePipeline", 201, {"id": "exec_1"}, True),
        ("ST101", "createPipeline", 500, _error("internal_error"), True),
    ],
)
def test_schemathesis_hook_drops_only_checks_a_schema_cannot_state(
    code: str, operation: str, status: int, body: Any, kept: bool
) -> None:
    assert keep_failure(code, operation, status, body) is kept


@pytest.mark.slow
async def test_schemathesis_finds_no_contract_breach(make_bud_server: Any, tmp_path: Path) -> None:
    """Run the Schemathesis CLI (examples, coverage, fuzzing, stateful phases) against the server."""
    server: TestServer = await make_bud_server(
        api_key=KEY,
        long_poll_max_seconds=0.2,
        callback_retry_schedule=(0.0,),
        callback_timeout_seconds=0.5,
    )
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"),
        str(server.make_url(DOCUMENT_PATH)),
        *("--header", f"Authorization: Bearer {KEY}"),
        *("--checks", "all", "--max-examples", "12", "--seed", "7", "--workers", "1"),
        *("--no-color", "--generation-database", "none"),
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 480)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-12_000:]
    count = len(list(operations(build_document())))
    # Every operation is tested (one websocket route may be left out by a run).
    assert f"Tested: {count}" in text or f"Tested: {count - 1}" in text, text[-3_000:]
