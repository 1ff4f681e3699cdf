"""One error shape everywhere, X-Request-ID on every response, and no 500 for any bad input."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from api_support import LOG_DEFINITION, Client, create_pipeline

from budai_server.metrics import Metrics
from budai_server.routes.errors import make_error_middleware, set_request_id_header


def assert_error_shape(body: Any, code: str | None = None) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code


async def test_unknown_route_is_a_json_404(api: Client) -> None:
    response = await api.get("/nowhere")
    assert response.status == 404
    assert_error_shape(await response.json(), "not_found")
    assert response.headers["X-Request-ID"]


async def test_wrong_method_is_a_json_405_with_allow(api: Client) -> None:
    response = await api.post("/health")
    assert response.status == 405
    body = await response.json()
    assert_error_shape(body, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
    assert body["error"]["details"]["method"] == "POST"


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[1, 2]", b'"text"', b"null", b'{"name": NaN}', b"\xff\xfe", b"", b"   "],
)
async def test_bodies_that_are_not_a_json_object_are_400(api: Client, raw: bytes) -> None:
    response = await api.post("/budpipeline", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert_error_shape(await response.json(), "invalid_json")


async def test_a_body_over_the_limit_is_413(aiohttp_client: Any, make_bud_server: Any) -> None:
    client = await aiohttp_client(await make_bud_server(max_body_bytes=2048))
    response = await client.post("/budpipeline", json={"name": "x" * 5000, "definition": LOG_DEFINITION})
    assert response.status == 413
    assert_error_shape(await response.json(), "payload_too_large")


async def test_request_ids_are_echoed_or_made(api: Client) -> None:
    response = await api.get("/health", headers={"X-Request-ID": "client-id-42"})
    assert response.headers["X-Request-ID"] == "client-id-42"
    made = {(await api.get("/health")).headers["X-Request-ID"] for _ in range(3)}
    assert len(made) == 3
    odd = await api.get("/health", headers={"X-Request-ID": "x" * 500})
    assert odd.headers["X-Request-ID"] != "x" * 500
    error = await api.get("/budpipeline/pipe_missing", headers={"X-Request-ID": "err-1"})
    assert (error.status, error.headers["X-Request-ID"]) == (404, "err-1")


async def test_an_unexpected_exception_is_a_logged_json_500(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(_request: web.Request) -> web.Response:
        raise RuntimeError("kaboom")

    app = web.Application(middlewares=[make_error_middleware(Metrics())])
    app.on_response_prepare.append(set_request_id_header)
    app.router.add_get("/broken", broken)
    client = await aiohttp_client(TestServer(app))
    with caplog.at_level(logging.ERROR, logger="budai_server.routes.errors"):
        response = await client.get("/broken", headers={"X-Request-ID": "trace-me"})
    assert response.status == 500
    body = await response.json()
    assert_error_shape(body, "internal_error")
    assert "kaboom" not in body["error"]["message"]
    assert body["error"]["details"] == {"request_id": "trace-me"}
    assert response.headers["X-Request-ID"] == "trace-me"
    assert any("trace-me" in record.getMessage() for record in caplog.records)


async def test_a_battery_of_bad_requests_never_gets_a_500(api: Client) -> None:
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    pid = pipeline["id"]
    weird_definitions: list[Any] = [
        {},
        {"steps": None},
        {"steps": {}},
        {"steps": [None]},
        {"steps": [1, "x", []]},
        {"steps": [{"id": None, "action": None}]},
        {"steps": [{"id": "a", "action": "log", "params": None}]},
        {"steps": [{"id": "a", "action": "log", "params": {"message": "{{ steps.a.output }"}}]},
        {"steps": [{"id": "a", "action": "log", "params": {"message": "{{ ''.__class__ }}"}}]},
        {"steps": [{"id": "a", "action": "log", "params": {"message": "x"}, "depends_on": "a"}]},
        {"steps": [{"id": "a", "action": "log", "params": {"message": "x"}, "depends_on": ["a"]}]},
        {"steps": [{"id": "a", "action": "log", "params": {"message": "x"}, "retry": {"max_attempts": -1}}]},
        {"steps": [{"id": "a", "action": "log", "params": {"message": "x"}, "timeout_seconds": "1"}]},
        {"steps": [{"id": "a", "action": "condition", "params": {"condition": "1 >", "on_true": "zz"}}]},
        {"steps": [{"id": "x" * 500, "action": "log", "params": {"message": "x"}}]},
        {"steps": [{"id": "a", "action": "log", "params": {"message": "x"}}], "outputs": []},
        {"steps": [{"id": "a", "action": "log", "params": {"message": "x"}}], "parameters": []},
    ]
    requests: list[tuple[str, str, Any]] = []
    for definition in weird_definitions:
        requests += [
            ("POST", "/budpipeline", {"name": "w", "definition": definition}),
            ("POST", "/budpipeline/run", {"pipeline_definition": definition}),
            ("POST", "/budpipeline/validate", {"definition": definition}),
            ("PATCH", f"/budpipeline/{pid}", {"definition": definition}),
            ("PUT", f"/budpipeline/{pid}", {"name": "w", "definition": definition}),
        ]
    for value in [None, 1, 1.5, True, "s", [], {}, [None], {"a": None}, "x" * 20_000]:
        for field in (
            "name",
            "description",
            "tags",
            "status",
            "params",
            "priority",
            "callbacks",
            "timeout_seconds",
        ):
            requests.append(
                ("POST", "/budpipeline", {"name": "w", "definition": LOG_DEFINITION, field: value})
            )
            requests.append(("POST", f"/budpipeline/{pid}/execute", {field: value}))
            requests.append(
                ("POST", "/budpipeline/run", {"pipeline_definition": LOG_DEFINITION, field: value})
            )
    for query in [
        "limit=1e9",
        "limit=",
        "offset=1.5",
        "status=,,,",
        "tags=,",
        "created_after=2024-01-01T25:00",
        "cursor=%00",
        "sort_by=",
        "wait=inf",
    ]:
        requests.append(("GET", f"/budpipeline/executions?{query}", None))
        requests.append(("GET", f"/budpipeline?{query}", None))
    statuses = []
    for method, path, body in requests:
        response = await api.request(method, path, json=body)
        statuses.append(response.status)
        assert response.status < 500, (method, path, body, await response.text())
        if response.status >= 400:
            assert_error_shape(await response.json())
    assert statuses.count(422) > len(statuses) // 2
