"""Retries against the real server's fault injection: no duplicate executions, Retry-After obeyed,
non-retryable errors raised at once. An observer middleware in front of the real app counts attempts."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web
from sdk_support import ClientFactory, fail_step, log_step

from budai_async import (
    AsyncBudClient,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    UnprocessableEntityError,
)
from budai_server.config import FaultConfig, ServerConfig

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.define
class Attempt:
    method: str
    path: str
    key: str | None
    at: float


class Observed:
    """The real app with a first middleware that records every request before faults apply."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []

    def matching(self, method: str, path: str) -> list[Attempt]:
        return [a for a in self.attempts if a.method == method and a.path == path]

    def app(self, config: ServerConfig) -> web.Application:
        from budai_server.app import create_app

        @web.middleware
        async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
            key = request.headers.get("Idempotency-Key")
            self.attempts.append(Attempt(request.method, request.path, key, time.monotonic()))
            return await handler(request)

        app = create_app(config)
        app.middlewares.insert(0, observe)
        return app


ObservedServer = Callable[..., Awaitable[tuple[Observed, str]]]


@pytest.fixture
def observed_server(aiohttp_server: Any, server_config: ServerConfig) -> ObservedServer:
    async def start(**overrides: Any) -> tuple[Observed, str]:
        observed = Observed()
        server = await aiohttp_server(observed.app(attrs.evolve(server_config, **overrides)))
        return observed, str(server.make_url("")).rstrip("/")

    return start


async def test_creates_under_faults_are_never_duplicated(
    observed_server: ObservedServer, make_client: ClientFactory
) -> None:
    faults = FaultConfig(
        error_503_rate=0.2,
        error_429_rate=0.1,
        drop_rate=0.1,
        drop_after_rate=0.15,  # the execution is created, the answer is lost
        retry_after_seconds=0.01,
        routes=("/budpipeline/*/execute", "/budpipeline/run"),
        methods=("POST",),
        seed=11,
    )
    observed, url = await observed_server(faults=faults)
    client = make_client(url, max_retries=30)
    pipeline = await client.pipelines.create(name="p", definition={"steps": [log_step("a")]})

    creates = [client.executions.create(pipeline.id, params={"n": n}) for n in range(40)]
    ephemeral = [
        client.executions.run_ephemeral({"steps": [log_step("a")]}, params={"n": n}) for n in range(40, 50)
    ]
    executions = await asyncio.gather(*creates, *ephemeral)

    assert len({e.id for e in executions}) == 50
    assert sorted(e.params["n"] for e in executions) == list(range(50))
    held = [e async for e in client.executions.list(limit=1000)]
    assert len(held) == 50  # the server holds exactly one execution per logical create
    assert sorted(e.params["n"] for e in held) == list(range(50))

    posts = [a for a in observed.attempts if a.method == "POST" and a.path != "/budpipeline"]
    assert len(posts) > 50  # faults did happen and were retried
    keys = {a.key for a in posts}
    assert None not in keys and len(keys) == 50  # one key per logical call, reused on every attempt


async def test_reads_survive_dropped_connections_and_503s(
    observed_server: ObservedServer, make_client: ClientFactory
) -> None:
    faults = FaultConfig(error_503_rate=0.3, drop_rate=0.3, methods=("GET",), seed=5)
    observed, url = await observed_server(faults=faults)
    client = make_client(url, max_retries=20)
    results = await asyncio.gather(*(client.actions.get("log") for _ in range(30)))
    assert {action.type for action in results} == {"log"}
    assert len(observed.matching("GET", "/budpipeline/actions/log")) > 30


async def test_retry_after_is_obeyed_then_exposed(
    observed_server: ObservedServer, make_client: ClientFactory
) -> None:
    faults = FaultConfig(
        error_429_rate=1.0, retry_after_seconds=0.3, routes=("/budpipeline",), methods=("GET",)
    )
    observed, url = await observed_server(faults=faults)
    client = make_client(url, max_retries=2)
    with pytest.raises(RateLimitError) as caught:
        await client.pipelines.list()
    assert caught.value.retry_after == 0.3
    assert caught.value.status_code == 429 and caught.value.code == "rate_limited"
    times = [a.at for a in observed.matching("GET", "/budpipeline")]
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 0.29 for gap in gaps), gaps  # the 10 ms fixture backoff would be far shorter


async def test_retry_after_longer_than_allowed_is_raised_at_once(
    observed_server: ObservedServer, make_client: ClientFactory
) -> None:
    faults = FaultConfig(
        error_429_rate=1.0, retry_after_seconds=120, routes=("/budpipeline",), methods=("GET",)
    )
    observed, url = await observed_server(faults=faults)
    client = make_client(url, max_retries=5, max_retry_after=30)
    with pytest.raises(RateLimitError) as caught:
        await client.pipelines.list()
    assert caught.value.retry_after == 120
    assert len(observed.matching("GET", "/budpipeline")) == 1


async def test_exhausted_retries_raise_the_last_error(
    observed_server: ObservedServer, make_client: ClientFactory
) -> None:
    from budai_async import InternalServerError

    observed, url = await observed_server(faults=FaultConfig(error_503_rate=1.0, methods=("GET",)))
    client = make_client(url, max_retries=3)
    with pytest.raises(InternalServerError) as caught:
        await client.pipelines.list()
    assert caught.value.status_code == 503 and caught.value.request_id
    assert len(observed.matching("GET", "/budpipeline")) == 4
    with pytest.raises(InternalServerError):
        await client.with_options(max_retries=0).pipelines.list()
    assert len(observed.matching("GET", "/budpipeline")) == 5  # no retry at all


async def test_non_retryable_errors_are_raised_at_once(
    observed_server: ObservedServer, make_client: ClientFactory
) -> None:
    observed, url = await observed_server()
    client = make_client(url, max_retries=5)

    async def attempts_of(method: str, path: str, call: Awaitable[Any], error: type[Exception]) -> int:
        before = len(observed.matching(method, path))
        with pytest.raises(error):
            await call
        return len(observed.matching(method, path)) - before

    assert await attempts_of("GET", "/budpipeline/pipe_x", client.pipelines.get("pipe_x"), NotFoundError) == 1
    bad = client.pipelines.create(name="bad", definition={"steps": [log_step("a", depends_on=["zz"])]})
    assert await attempts_of("POST", "/budpipeline", bad, UnprocessableEntityError) == 1
    pipeline = await client.pipelines.create(name="f", definition={"steps": [fail_step("a")]})
    done = await client.executions.create(pipeline.id, wait=True)
    cancel = client.executions.cancel(done.id)
    path = f"/budpipeline/executions/{done.id}/cancel"
    assert await attempts_of("POST", path, cancel, ConflictError) == 1


async def test_bad_api_key_is_not_retried(
    observed_server: ObservedServer, make_client: ClientFactory
) -> None:
    observed, url = await observed_server(api_key="sk-right")
    client: AsyncBudClient = make_client(url, api_key="sk-wrong", max_retries=5)
    with pytest.raises(AuthenticationError):
        await client.pipelines.list()
    assert len(observed.matching("GET", "/budpipeline")) == 1


def seed_where(*draws_below: bool, rate: float) -> int:
    """A seed whose first draws fall below / above `rate` as listed (the fault middleware's RNG)."""
    import random

    for seed in range(10_000):
        rng = random.Random(seed)
        if all((rng.random() < rate) is below for below in draws_below):
            return seed
    raise AssertionError("no such seed")


async def test_retried_delete_whose_answer_was_lost_succeeds(
    observed_server: ObservedServer, make_client: ClientFactory
) -> None:
    # attempt 1: deleted, then the connection drops; attempt 2: 404 -> the delete did happen
    seed = seed_where(True, False, rate=0.5)
    faults = FaultConfig(drop_after_rate=0.5, routes=("/budpipeline/pipe_*",), methods=("DELETE",), seed=seed)
    observed, url = await observed_server(faults=faults)
    client = make_client(url, max_retries=3)
    pipeline = await client.pipelines.create(name="p", definition={"steps": [log_step("a")]})
    await client.pipelines.delete(pipeline.id)
    assert len(observed.matching("DELETE", f"/budpipeline/{pipeline.id}")) == 2
    with pytest.raises(NotFoundError):  # a plain 404 (no lost answer before it) still raises
        await client.pipelines.delete(pipeline.id)


async def test_retries_are_logged(
    observed_server: ObservedServer, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    seed = seed_where(True, False, rate=0.5)
    _observed, url = await observed_server(
        faults=FaultConfig(error_503_rate=0.5, methods=("GET",), seed=seed)
    )
    client = make_client(url, max_retries=2)
    with caplog.at_level("INFO", logger="budai_async"):
        await client.pipelines.list()
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert [m.split(" in ")[0] for m in retries] == ["retrying GET /budpipeline"]
