"""The SDK reads the real BudAI gateway's recorded shapes, parsed directly and through the whole client.

`data/gateway_shapes.json` is `spec/bud-gateway-shapes.json` with its placeholders filled in. The
replay app below answers exactly those bodies on the gateway's routes; it stands in for a remote
deployment we cannot reach from tests, not for our own server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from budai_async import (
    AsyncBudClient,
    Execution,
    ExecutionStatus,
    InternalServerError,
    NotFoundError,
    Pipeline,
    RateLimitError,
    StepStatus,
    UnprocessableEntityError,
)
from budai_async.resources._base import parse, parse_page

SHAPES: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "gateway_shapes.json").read_text())
EXEC_ID = SHAPES["execution_get"]["id"]
WORKFLOW_ID = SHAPES["execution_get"]["pipeline_definition"]["workflow_id"]
RUNNING_ID = "a1b2c3d4-0000-4000-8000-0000000000aa"


def test_execute_response() -> None:
    execution = parse(SHAPES["execute_or_run_response"], Execution)
    assert execution.id == SHAPES["execute_or_run_response"]["execution_id"]
    assert execution.pipeline_id == SHAPES["execute_or_run_response"]["workflow_id"]
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.is_terminal
    assert execution.outputs == {"deployment_id": "dep_1"}
    assert execution.params == {"cluster_id": "cluster_prod"}
    assert execution.error is None
    assert execution.started_at == datetime(2026, 3, 14, 10, 0, 0, 123456, tzinfo=UTC)


def test_execution_get_uppercase_and_gateway_names() -> None:
    execution = parse(SHAPES["execution_get"], Execution)
    assert execution.id == EXEC_ID
    assert execution.status == "failed" and execution.status is ExecutionStatus.FAILED
    assert execution.pipeline_id == WORKFLOW_ID
    assert execution.progress == 50.0
    assert execution.outputs == {}
    assert execution.error == "Step deploy failed: cluster unreachable"
    assert execution.params == {"cluster_id": "cluster_prod"}
    assert execution.started_at is not None and execution.completed_at is not None
    assert execution.created_at == datetime(2026, 3, 14, 10, 0, 0, 123456, tzinfo=UTC)


def test_unknown_gateway_status_is_kept() -> None:
    execution = parse({**SHAPES["execution_get"], "status": "INTERRUPTED"}, Execution)
    assert execution.status == "interrupted"
    assert execution.status.is_terminal  # not pending/running: a waiter stops here instead of spinning


def test_execution_list_page() -> None:
    page = parse_page(SHAPES["execution_list"], Execution)
    assert [e.id for e in page.items] == [EXEC_ID, "7d3e2a10-0000-4000-8000-000000000002"]
    assert [e.status for e in page.items] == [ExecutionStatus.FAILED, ExecutionStatus.COMPLETED]
    assert page.items[1].outputs == {"deployment_id": "dep_2"}
    assert (page.total, page.limit, page.offset) == (42, 20, 0)


def test_progress_view() -> None:
    execution = parse(SHAPES["execution_progress"], Execution)
    assert execution.id == EXEC_ID
    step = execution.steps["deploy"]
    assert step.status is StepStatus.COMPLETED
    assert step.output == {"deployment_id": "dep_1"}
    assert step.attempts == 1
    assert step.started_at is not None
    assert (execution.completed_steps, execution.total_steps) == (2, 2)


def test_pipeline_and_plain_list() -> None:
    pipeline = parse(SHAPES["pipeline"], Pipeline)
    assert pipeline.id == SHAPES["pipeline"]["id"]
    assert pipeline.version == 1  # the gateway sends "1"
    assert pipeline.definition["steps"][0]["action"] == "model_add"
    assert pipeline.step_count == 2
    page = parse_page([SHAPES["pipeline"], SHAPES["pipeline"]], Pipeline)
    assert len(page.items) == 2 and page.total is None


# ---------------------------------------------------------------- the whole client against a replay


class Replay:
    """Answers the gateway's recorded bodies and counts requests per route."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.running_reads = 0

    def count(self, request: web.Request) -> None:
        resource = request.match_info.route.resource
        key = f"{request.method} {resource.canonical if resource else request.path}"
        self.hits[key] = self.hits.get(key, 0) + 1

    def app(self) -> web.Application:
        @web.middleware
        async def counting(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            self.count(request)
            return await handler(request)

        async def execute(_request: web.Request) -> web.Response:
            return web.json_response(SHAPES["execute_or_run_response"], status=201)

        async def get_execution(request: web.Request) -> web.Response:
            if request.match_info["id"] == RUNNING_ID:  # RUNNING for three reads, then COMPLETED
                self.running_reads += 1
                status = "RUNNING" if self.running_reads <= 3 else "COMPLETED"
                return web.json_response({**SHAPES["execution_get"], "id": RUNNING_ID, "status": status})
            if request.match_info["id"] != EXEC_ID:
                # The gateway answers 500, not 404, for an unknown execution id.
                return web.json_response(SHAPES["errors"]["service"], status=500)
            return web.json_response(SHAPES["execution_get"])

        async def list_executions(_request: web.Request) -> web.Response:
            return web.json_response(SHAPES["execution_list"])  # ignores offset: always page 1

        async def progress(_request: web.Request) -> web.Response:
            return web.json_response(SHAPES["execution_progress"])

        async def list_pipelines(_request: web.Request) -> web.Response:
            return web.json_response([SHAPES["pipeline"]])

        async def get_pipeline(request: web.Request) -> web.Response:
            if request.match_info["id"] != SHAPES["pipeline"]["id"]:
                return web.json_response(SHAPES["errors"]["gateway"], status=404)
            return web.json_response(SHAPES["pipeline"])

        async def create_pipeline(_request: web.Request) -> web.Response:
            return web.json_response(SHAPES["errors"]["validation"], status=422)

        async def actions(_request: web.Request) -> web.Response:
            shape = SHAPES["errors"]["rate_limited"]
            body = {key: value for key, value in shape.items() if not key.startswith("_")}
            return web.json_response(body, status=429, headers=shape["_headers"])

        async def not_found(_request: web.Request) -> web.Response:
            return web.json_response({"detail": "Not Found"}, status=404)

        app = web.Application(middlewares=[counting])
        app.router.add_post("/budpipeline/{id}/execute", execute)
        app.router.add_post("/budpipeline/run", execute)
        app.router.add_get("/budpipeline/executions", list_executions)
        app.router.add_get("/budpipeline/executions/{id}", get_execution)
        app.router.add_get("/budpipeline/executions/{id}/progress", progress)
        app.router.add_post("/budpipeline/executions/{id}/cancel", not_found)
        app.router.add_post("/budpipeline/executions/{id}/retry", not_found)
        app.router.add_get("/budpipeline/actions", actions)
        app.router.add_get("/budpipeline", list_pipelines)
        app.router.add_post("/budpipeline", create_pipeline)
        app.router.add_get("/budpipeline/{id}", get_pipeline)
        return app


@pytest.fixture
async def replay() -> AsyncIterator[tuple[Replay, AsyncBudClient]]:
    recorder = Replay()
    server = TestServer(recorder.app(), port=0)
    await server.start_server()
    client = AsyncBudClient(
        base_url=str(server.make_url("")), max_retries=1, retry_initial_delay=0.001, max_retry_after=1.0
    )
    try:
        yield recorder, client
    finally:
        await client.aclose()
        await server.close()


async def test_create_with_wait_returns_a_terminal_answer_without_polling(
    replay: tuple[Replay, AsyncBudClient],
) -> None:
    recorder, client = replay
    execution = await client.executions.create(WORKFLOW_ID, params={"cluster_id": "cluster_prod"}, wait=True)
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.outputs == {"deployment_id": "dep_1"}
    ephemeral = await client.executions.run_ephemeral({"steps": []}, wait=True, timeout=5)
    assert ephemeral.is_terminal
    assert recorder.hits == {"POST /budpipeline/{id}/execute": 1, "POST /budpipeline/run": 1}


async def test_get_list_progress_through_the_client(replay: tuple[Replay, AsyncBudClient]) -> None:
    _recorder, client = replay
    execution = await client.executions.get(EXEC_ID)
    assert execution.status is ExecutionStatus.FAILED and execution.progress == 50.0
    page = await client.executions.list(pipeline_id=WORKFLOW_ID, status="failed")
    assert page.total == 42 and len(page) == 2
    everything = [item.id async for item in client.executions.list(limit=2)]
    assert len(everything) == 2  # the gateway ignored our offset: read as one page, not a loop
    progressed = await client.executions.progress(EXEC_ID)
    assert progressed.steps["deploy"].status is StepStatus.COMPLETED
    waited = await client.executions.wait(EXEC_ID, timeout=5)
    assert waited.status is ExecutionStatus.FAILED


async def test_pipelines_plain_list_and_gateway_errors(replay: tuple[Replay, AsyncBudClient]) -> None:
    _recorder, client = replay
    pipelines = await client.pipelines.list()
    assert [p.name for p in pipelines] == ["Deploy Model"] and pipelines.total is None
    assert [p.id async for p in client.pipelines.list(limit=1)] == [SHAPES["pipeline"]["id"]]
    assert (await client.pipelines.get(SHAPES["pipeline"]["id"])).definition["name"] == "Deploy Model"
    with pytest.raises(NotFoundError, match="Pipeline not found") as missing:
        await client.pipelines.get("nope")
    assert missing.value.status_code == 404
    with pytest.raises(UnprocessableEntityError, match="depends on unknown step 'x'"):
        await client.pipelines.create(name="x", definition={"steps": []})


async def test_unknown_execution_500_is_raised_after_bounded_retries(
    replay: tuple[Replay, AsyncBudClient],
) -> None:
    recorder, client = replay
    with pytest.raises(InternalServerError, match="Execution not found") as caught:
        await client.executions.get("unknown")
    assert caught.value.request_id == "c-1"
    assert recorder.hits["GET /budpipeline/executions/{id}"] == 2  # max_retries=1: two attempts, no storm


async def test_missing_routes_are_not_supported_and_not_retried(
    replay: tuple[Replay, AsyncBudClient],
) -> None:
    recorder, client = replay
    with pytest.raises(NotFoundError, match="not supported by this server"):
        await client.executions.cancel(EXEC_ID)
    with pytest.raises(NotFoundError, match="not supported by this server"):
        await client.executions.retry(EXEC_ID)
    assert recorder.hits["POST /budpipeline/executions/{id}/cancel"] == 1
    assert recorder.hits["POST /budpipeline/executions/{id}/retry"] == 1


async def test_rate_limit_shape(replay: tuple[Replay, AsyncBudClient]) -> None:
    recorder, client = replay
    with pytest.raises(RateLimitError, match="Rate limit exceeded") as caught:
        await client.actions.list()
    assert caught.value.retry_after == 60.0
    assert caught.value.headers["X-RateLimit-Remaining"] == "0"
    assert recorder.hits["GET /budpipeline/actions"] == 1  # 60 s is past max_retry_after: raised at once


async def test_wait_without_long_poll_falls_back_to_spaced_polls(
    replay: tuple[Replay, AsyncBudClient],
) -> None:
    recorder, client = replay
    loop = asyncio.get_running_loop()
    started = loop.time()
    execution = await client.executions.wait(RUNNING_ID, timeout=10)
    assert execution.status is ExecutionStatus.COMPLETED
    assert recorder.running_reads == 4  # not a spin: pauses of 0.25 s, then 0.5 s between reads
    assert loop.time() - started >= 0.7
