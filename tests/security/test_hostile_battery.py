"""Hypothesis over every route of /openapi.json with hostile values: never a 5xx, server stays healthy.

Each example picks one documented operation (websocket routes aside) and fills its path, query,
headers and body with hostile values: deep nesting, huge and non-finite numbers, out-of-range
dates, wrong JSON types in every field, unicode, NUL and lone surrogates, template syntax, broken
definitions at every level, bodies that are not JSON or not UTF-8. The server runs with an API key
and the strict outbound policy; after every request `/health` must answer 200, and no "unhandled
error" may have been logged. Examples are bounded so the module runs in well under a minute.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from security_support import Client, json_of, run, step

from budai_server.config import ServerConfig
from budai_server.openapi import build_document

KEY = "battery-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
DOCUMENT = build_document()
METHODS = ("get", "put", "post", "delete", "patch")
OPERATIONS = [
    (method.upper(), path, item[method])
    for path, item in DOCUMENT["paths"].items()
    for method in METHODS
    if method in item and "x-websocket" not in item[method]
]
BATTERY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

DEEP_TEXT = "[" * 3000 + "]" * 3000
HOSTILE_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff\ud800",
    "\u202e\u0000\ufeff",
    "\U0001d54f" * 300,  # a non-BMP letter
    "x" * 20_000,
    "9999-12-31T23:59:59-23:00",
    "0001-01-01T00:00:00+05:00",
    "10000-01-01",
    "-1",
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "9" * 5000,
    "0x7f",
    "{{ params.x }}",
    "{{ 9 ** 9 ** 9 }}",
    "{% for i in range(100000000) %}x{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    "{{",
    "../../etc/passwd",
    "http://127.0.0.1:1/x",
    "pipe_" + "0" * 32,
    "exec_" + "0" * 32,
    "'; DROP TABLE executions; --",
    "%00",
    "a,b,,c",
]
HOSTILE_SCALARS = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from([None, True, False, 0, -1, 1.5, 2**63, -(2**63) - 1, 10**40, 1e308, -1e308, 5e-324]),
    st.text(max_size=12),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)


def nested(depth: int) -> Any:
    value: Any = 1
    for index in range(depth):
        value = [value] if index % 2 else {"k": value}
    return value


HOSTILE = st.recursive(
    HOSTILE_SCALARS | st.sampled_from([nested(70), nested(500), [], {}]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
ACTIONS = st.sampled_from(
    ["log", "delay", "fail", "transform", "condition", "api_call", "notification", "model_add", "nope"]
)
STEP_KEYS = (
    "id",
    "action",
    "params",
    "depends_on",
    "retry",
    "condition",
    "timeout_seconds",
    "name",
    "outputs",
)
PARAM_KEYS = ("type", "required", "default", "enum", "description")


@st.composite
def definitions(draw: st.DrawFn) -> Any:
    """A definition with hostile values at every level (or something that is no definition at all)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(HOSTILE)
    steps = []
    for index in range(draw(st.integers(0, 3))):
        item: dict[str, Any] = {"id": f"s{index}", "action": draw(ACTIONS), "params": {"message": "m"}}
        for key in draw(st.lists(st.sampled_from(STEP_KEYS), max_size=3, unique=True)):
            item[key] = draw(HOSTILE)
        steps.append(item if draw(st.integers(0, 9)) else draw(HOSTILE))
    definition: dict[str, Any] = {"steps": steps}
    if draw(st.booleans()):
        declaration: Any = {
            key: draw(HOSTILE) for key in draw(st.lists(st.sampled_from(PARAM_KEYS), max_size=3, unique=True))
        }
        definition["parameters"] = {
            draw(st.text(max_size=5)): declaration if draw(st.booleans()) else draw(HOSTILE)
        }
    for key in draw(st.lists(st.sampled_from(["outputs", "edges", "timeout_seconds", "name"]), max_size=2)):
        definition[key] = draw(HOSTILE)
    return definition


def resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        node: Any = DOCUMENT
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def properties(schema: Mapping[str, Any]) -> list[str]:
    """Every property name a body schema mentions (through refs and combinators)."""
    schema = resolve(schema)
    names = list(schema.get("properties", {}))
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key, []):
            names += [name for name in properties(part) if name not in names]
    return names


def parameters(operation: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [resolve(parameter) for parameter in operation.get("parameters", [])]


RAW_BODIES = [
    DEEP_TEXT,
    '{"params": ' + DEEP_TEXT + "}",
    "{" * 100_000,
    '{"a": ' + "9" * 5000 + "}",
    '{"a": NaN}',
    '{"a": 1e999}',
    "\xff\xfe\x00",
    "null",
    "[]",
    '"x"',
    "{",
    '{"a": "\\ud800"}',
    '{"a": 1, "a": 2}',
    "x" * (1024 * 1024 + 10),
]


@st.composite
def bodies(draw: st.DrawFn, operation: Mapping[str, Any]) -> tuple[str, Any]:
    """("json", value) or ("raw", text)."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    if draw(st.integers(0, 5)) == 0 or not content:
        return "raw", draw(st.sampled_from(RAW_BODIES))
    fields = properties(content.get("schema", {})) or ["params"]
    base = dict(content.get("example") or {}) if draw(st.booleans()) else {}
    for name in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True)):
        if name in ("definition", "pipeline_definition", "dag"):
            base[name] = draw(definitions())
        elif name == "items":
            base[name] = draw(
                st.lists(st.dictionaries(st.sampled_from([*fields, "params"]), HOSTILE), max_size=3)
            )
        else:
            base[name] = draw(HOSTILE)
    if draw(st.integers(0, 9)) == 0:
        base[draw(st.text(max_size=8))] = draw(HOSTILE)
    return "json", base


# What a client can send in a header: printable Latin-1 (DEL and C1 controls are refused by aiohttp).
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_categories=["Cc"]),
    max_size=300,
)


def url_part(value: Any) -> str:
    """A path segment or query value, percent-encoded byte by byte (lone surrogates included)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@attrs.frozen
class Target:
    client: Client
    ids: dict[str, str]


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    return attrs.evolve(
        server_config,
        api_key=KEY,
        outbound_mode="strict",
        long_poll_max_seconds=0.05,
        callback_retry_schedule=(0.0,),
    )


@pytest.fixture
async def target(aiohttp_client: Any, bud_server: TestServer) -> Target:
    client: Client = await aiohttp_client(bud_server, headers=AUTH)
    pipeline = await json_of(
        client,
        "POST",
        "/budpipeline",
        json={"name": "p", "definition": {"steps": [step("a", "log", message="{{ params.x }}")]}},
        expect=201,
    )
    execution = await run(client, {"steps": [step("a", "log", message="x")]}, wait=0.05)
    return Target(client, {"pipeline_id": pipeline["id"], "execution_id": execution["id"]})


@st.composite
def requests(draw: st.DrawFn, ids: Mapping[str, str]) -> tuple[str, str, dict[str, str], dict[str, str], Any]:
    method, template, operation = draw(st.sampled_from(OPERATIONS))
    path = template
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    for parameter in parameters(operation):
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            value = ids.get(name) if draw(st.booleans()) else url_part(draw(HOSTILE_SCALARS))
            path = path.replace("{" + name + "}", value or "x")
        elif where == "query" and draw(st.booleans()):
            query[name] = url_part(draw(HOSTILE_SCALARS))
        elif where == "header" and draw(st.booleans()):
            headers[name] = draw(HEADER_TEXT)
    if draw(st.integers(0, 9)) == 0:
        headers["X-Request-ID"] = draw(HEADER_TEXT)
    if draw(st.integers(0, 19)) == 0:
        headers["Authorization"] = draw(
            st.sampled_from(["", "Bearer", "Bearer x", "Basic Zm9v", f"bearer {KEY}"])
        )
    body = draw(bodies(operation)) if method in ("POST", "PUT", "PATCH") else None
    return method, path, query, headers, body


@BATTERY
@given(data=st.data())
async def test_hostile_requests_never_answer_5xx(
    target: Target, data: st.DataObject, caplog: pytest.LogCaptureFixture
) -> None:
    method, path, query, headers, body = data.draw(requests(target.ids))
    if query:
        path += "?" + "&".join(f"{name}={value}" for name, value in query.items())
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kind, value = body
        if kind == "raw":
            kwargs["data"] = io.BytesIO(value.encode("utf-8", "surrogatepass"))
            headers.setdefault("Content-Type", "application/json")
        else:
            kwargs["json"] = value
    with caplog.at_level(logging.ERROR, logger="budai_server"):
        response = await target.client.request(method, path, **kwargs)
        text = await response.text(errors="replace")
    assert response.status < 500, f"{method} {path} {query} -> {response.status}: {text[:500]}"
    if response.status >= 400 and response.content_type != "text/plain":  # text: aiohttp's HTTP parser
        assert "error" in json.loads(text), text[:300]
    health = await target.client.get("/health")
    assert health.status == 200
    assert "unhandled error" not in caplog.text, caplog.text[-3000:]


async def test_the_battery_covers_every_documented_http_operation() -> None:
    documented = {
        (method.upper(), path)
        for path, item in DOCUMENT["paths"].items()
        for method in METHODS
        if method in item and "x-websocket" not in item[method]
    }
    assert {(method, path) for method, path, _op in OPERATIONS} == documented
    assert len(documented) >= 20
