"""The three 500s of issue 14, as plain tests against the real server, and the depth scanner's table.

Each used to answer 500 with a traceback: deeply nested JSON (`RecursionError` in the parser), a
parameter declaration holding a list or an object where a scalar belongs, and a `created_after` /
`created_before` outside the datetime range (`OverflowError`).
"""

from __future__ import annotations

import base64
import json
import logging

import pytest
from security_support import Client, json_of

from budai_server.nesting import exceeds_depth

DEEP = "[" * 5000 + "]" * 5000
LOG_STEP = {"id": "a", "action": "log", "params": {"message": "x"}}


@pytest.mark.parametrize(
    ("text", "limit", "deeper"),
    [
        ("[]", 1, False),
        ("[[]]", 1, True),
        ('{"a":{"b":[1]}}', 3, False),
        ('{"a":{"b":[1]}}', 2, True),
        ('["[[[[[[", "{{{{{{"]', 1, False),  # brackets inside strings do not count
        ('["\\"[[[["]', 1, False),  # nor after an escaped quote
        ("[" * 65 + "]" * 65, 64, True),
        ("[" * 64 + "]" * 64, 64, False),
        ("[[]," * 100, 64, True),  # unclosed openers count
        ("[" + "[]," * 10_000 + "[]]", 64, False),  # many brackets, shallow
        ("1", 0, False),
    ],
)
def test_exceeds_depth(text: str, limit: int, deeper: bool) -> None:
    assert exceeds_depth(text, limit) is deeper
    assert exceeds_depth(text.encode(), limit) is deeper


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/budpipeline"),
        ("POST", "/budpipeline/validate"),
        ("POST", "/budpipeline/run"),
        ("POST", "/budpipeline/pipe_00000000000000000000000000000000/execute"),
        ("POST", "/budpipeline/pipe_00000000000000000000000000000000/execute/batch"),
        ("PATCH", "/budpipeline/pipe_00000000000000000000000000000000"),
        ("POST", "/budpipeline/executions/exec_00000000000000000000000000000000/cancel"),
        ("POST", "/budpipeline/executions/exec_00000000000000000000000000000000/retry"),
        ("POST", "/budpipeline/executions/wait"),
    ],
)
@pytest.mark.parametrize("with_key", [False, True])
async def test_deep_json_is_refused_before_parsing(
    api: Client, method: str, path: str, with_key: bool, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Content-Type": "application/json"}
    if with_key:
        headers["Idempotency-Key"] = f"deep-{method}-{path}"
    for body in (DEEP, '{"params": ' + DEEP + "}"):
        with caplog.at_level(logging.ERROR):
            answer = await json_of(api, method, path, data=body, headers=headers, expect=422)
        assert answer["error"]["details"][0] == {
            "path": "body",
            "message": "request body nests arrays and objects deeper than 64 levels (max_json_depth)",
            "code": "too_deep",
        }
    assert "unhandled error" not in caplog.text


@pytest.mark.parametrize(
    "declaration",
    [
        {"type": ["string"]},
        {"type": {"a": 1}},
        {"type": "string", "enum": [[1], {"a": 1}]},
        {"type": "string", "required": [True]},
        {"type": "string", "description": {"x": 1}},
        {"type": "integer", "default": [1, 2]},
        [{"type": "string"}],
        "string",
    ],
)
async def test_parameter_declarations_of_the_wrong_shape_are_invalid_not_500(
    api: Client, declaration: object
) -> None:
    definition = {"parameters": {"x": declaration}, "steps": [LOG_STEP]}
    answer = await json_of(api, "POST", "/budpipeline/validate", json={"definition": definition}, expect=200)
    if answer["valid"]:  # an unhashable enum value or default is allowed; executing it must work too
        await json_of(api, "POST", "/budpipeline/run", json={"pipeline_definition": definition}, expect=201)
    else:
        assert answer["errors"][0]["path"].startswith("parameters.x"), answer
    created = await api.post("/budpipeline", json={"name": "p", "definition": definition})
    assert created.status in (201, 422), await created.text()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("created_after", "9999-12-31T23:59:59-23:00"),
        ("created_before", "0001-01-01T00:00:00+05:00"),
        ("created_after", "9999-12-31T23:59:59.999999-00:01"),
        ("created_before", "0001-01-01T00:00:00+23:59"),
    ],
)
async def test_dates_outside_the_range_are_422_naming_the_field(api: Client, name: str, value: str) -> None:
    answer = await json_of(api, "GET", "/budpipeline/executions", params={name: value}, expect=422)
    (detail,) = answer["error"]["details"]
    assert detail["path"] == name and detail["code"] == "range", detail


async def test_a_deep_cursor_token_is_a_422(api: Client) -> None:
    token = base64.urlsafe_b64encode(json.dumps([[[[[[]]]]]]).encode() + b"[" * 3000).decode()
    answer = await json_of(api, "GET", "/budpipeline/executions", params={"cursor": token}, expect=422)
    assert answer["error"]["details"][0]["path"] == "cursor"
