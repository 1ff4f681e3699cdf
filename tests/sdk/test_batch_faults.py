"""`create_many` through injected faults: 503s and dropped connections stay exactly once; 429s pause all."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from batch_support import NOOP, executions_per_param, server_count

from budai_async import AsyncBudClient
from budai_async.batch import create_many
from budai_server.config import FaultConfig, ServerConfig

BATCH_ROUTE = ("/budpipeline/*/execute/batch",)


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    return attrs.evolve(server_config, max_concurrent_executions=256)


@attrs.define
class Arrivals:
    """What a front middleware saw of the batch route: (arrival time, answer status, Retry-After)."""

    requests: list[tuple[float, int, float | None]] = attrs.field(factory=list)
    replayed: int = 0

    def middleware(self) -> Any:
        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            arrived = time.monotonic()
            status, retry_after = 599, None
            try:
                response: web.StreamResponse = await handler(request)
                status = response.status
                header = response.headers.get("Retry-After")
                retry_after = float(header) if header and status == 429 else None
                if status == 200 and isinstance(response, web.Response) and response.text:
                    self.replayed += json.loads(response.text).get("replayed", 0)
                return response
            finally:
                if request.path.endswith("/execute/batch"):
                    self.requests.append((arrived, status, retry_after))

        return record


@pytest.fixture
async def faulty(
    aiohttp_server: Any, server_config: ServerConfig, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[TestServer, web.Application, Arrivals]]:
    """A real server with the `FaultConfig` given as the test's indirect parameter."""
    from budai_server.app import create_app

    faults: FaultConfig = request.param
    app = create_app(attrs.evolve(server_config, faults=faults))
    arrivals = Arrivals()
    app.middlewares.insert(0, arrivals.middleware())  # outermost: sees injected answers too
    server: TestServer = await aiohttp_server(app)
    yield server, app, arrivals


def _url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


FLAKY = FaultConfig(
    error_503_rate=0.2, drop_rate=0.15, drop_after_rate=0.15, routes=BATCH_ROUTE, methods=("POST",), seed=11
)


@pytest.mark.parametrize("faulty", [FLAKY], indirect=True)
async def test_503_and_dropped_connections_still_create_each_item_once(
    faulty: tuple[TestServer, web.Application, Arrivals],
) -> None:
    server, app, arrivals = faulty
    async with AsyncBudClient(
        base_url=_url(server), retry_initial_delay=0.01, retry_max_delay=0.05
    ) as client:
        pipeline = await client.pipelines.create(name="noop", definition=NOOP)
        result = await create_many(
            client, pipeline.id, ({"n": n} for n in range(2000)), concurrency=6, chunk_size=50, max_retries=30
        )
    statuses = [status for _, status, _ in arrivals.requests]
    assert statuses.count(503) >= 10  # injected 503s and drops (both answered 503 on the server side)
    assert arrivals.replayed > 0  # some chunks were created, lost their answer, and were sent again
    assert result.counts.created == 2000 and result.counts.errors == 0
    assert [item.execution.params["n"] for item in result if item.execution] == list(range(2000))
    assert await server_count(app) == 2000
    assert set((await executions_per_param(app)).values()) == {1}
    assert len({e.id for e in result.executions}) == 2000


@pytest.mark.parametrize(
    "faulty",
    [FaultConfig(error_503_rate=1.0, routes=BATCH_ROUTE, methods=("POST",), seed=1)],
    indirect=True,
)
async def test_a_chunk_that_keeps_failing_is_reported_per_item(
    faulty: tuple[TestServer, web.Application, Arrivals],
) -> None:
    server, app, arrivals = faulty
    async with AsyncBudClient(
        base_url=_url(server), retry_initial_delay=0.001, retry_max_delay=0.002
    ) as client:
        pipeline = await client.pipelines.create(name="noop", definition=NOOP)
        result = await create_many(
            client, pipeline.id, [{"n": n} for n in range(10)], chunk_size=5, max_retries=2
        )
    assert len(arrivals.requests) == 2 * 3  # two chunks, each tried 1 + max_retries times
    assert [item.error.status for item in result if item.error] == [503] * 10
    assert await server_count(app) == 0


@pytest.mark.parametrize(
    "faulty",
    [
        FaultConfig(
            error_429_rate=0.25, retry_after_seconds=0.5, routes=BATCH_ROUTE, methods=("POST",), seed=5
        )
    ],
    indirect=True,
)
async def test_429_pauses_every_worker_together_and_the_batch_finishes(
    faulty: tuple[TestServer, web.Application, Arrivals],
) -> None:
    server, app, arrivals = faulty
    async with AsyncBudClient(base_url=_url(server)) as client:
        pipeline = await client.pipelines.create(name="noop", definition=NOOP)
        result = await create_many(
            client, pipeline.id, [{"n": n} for n in range(400)], concurrency=8, chunk_size=20
        )
    assert result.counts.created == 400
    assert await server_count(app) == 400
    limited = [(arrived, retry) for arrived, status, retry in arrivals.requests if status == 429]
    assert len(limited) >= 2
    margin = 0.1  # a request already on the wire when the 429 came back may still land just after it
    for answered, retry_after in limited:
        assert retry_after == 0.5
        quiet = [
            arrived
            for arrived, _status, _ in arrivals.requests
            if answered + margin < arrived < answered + retry_after - margin
        ]
        assert quiet == [], f"requests arrived during the pause that began at {answered}"
