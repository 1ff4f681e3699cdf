"""Client lifecycle and configuration: env settings, lazy session, closing, loops, timeouts, auth."""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import gc
import warnings
from typing import Any

import pytest
from sdk_support import ClientFactory, PipelineFactory, delay_step, log_step

from budai_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncBudClient,
    AuthenticationError,
    BudError,
    Timeout,
    ValidationError,
)
from budai_async._client import DEFAULT_BASE_URL


def test_settings_from_environment_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUDAI_BASE_URL", raising=False)
    monkeypatch.delenv("BUDAI_API_KEY", raising=False)
    plain = AsyncBudClient()
    assert plain.base_url == DEFAULT_BASE_URL == "http://127.0.0.1:8080" and plain.api_key is None
    monkeypatch.setenv("BUDAI_BASE_URL", "https://bud.example.com/api/")
    monkeypatch.setenv("BUDAI_API_KEY", "sk-env")
    from_env = AsyncBudClient()
    assert from_env.base_url == "https://bud.example.com/api" and from_env.api_key == "sk-env"
    explicit = AsyncBudClient(base_url="http://10.0.0.1:9", api_key="sk-arg")
    assert explicit.base_url == "http://10.0.0.1:9" and explicit.api_key == "sk-arg"
    with pytest.raises(ValidationError, match="base_url"):
        AsyncBudClient(base_url="ftp://x")


def test_timeout_forms() -> None:
    assert AsyncBudClient(timeout=5).timeout == Timeout(connect=5, read=5, total=5)
    assert AsyncBudClient(timeout=None).timeout == Timeout(connect=None, read=None, total=None)
    custom = Timeout(connect=1, read=2, total=3)
    assert AsyncBudClient(timeout=custom).timeout is custom
    assert custom.with_read(30) == Timeout(connect=1, read=30, total=31)
    with pytest.raises(ValueError):
        Timeout.of(0)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"timeout": (1, 2)}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"max_retries": None}, "max_retries"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"retry_initial_delay": "fast"}, "retry_initial_delay"),
        ({"retry_max_delay": -1}, "retry_max_delay"),
        ({"max_retry_after": None}, "max_retry_after"),
    ],
)
def test_bad_options_are_validation_errors_naming_the_option(options: dict[str, Any], named: str) -> None:
    """Not attrs' or float()'s bare TypeError from inside the library."""
    with pytest.raises(ValidationError, match=named):
        AsyncBudClient(**options)
    if set(options) <= {"timeout", "max_retries"} and options.get("max_retries", 0) is not None:
        with pytest.raises(ValidationError, match=named):
            AsyncBudClient().with_options(**options)


@pytest.mark.parametrize("key", [42, "", "a\nb", "x" * 256, "clé"])
async def test_a_bad_idempotency_key_is_refused_before_sending(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory, key: Any
) -> None:
    """An empty key used to become a fresh one silently: two "guarded" calls made two runs."""
    pipeline = await make_pipeline(log_step("a"))
    with pytest.raises(ValidationError, match="idempotency_key"):
        await bud_client.executions.create(pipeline.id, idempotency_key=key)
    assert (await bud_client.executions.list(pipeline_id=pipeline.id)).total == 0


async def test_session_is_lazy_and_closed_by_async_with(bud_url: str) -> None:
    client = AsyncBudClient(base_url=bud_url)
    assert client.connection_stats() == {"in_use": 0, "idle": 0}
    async with client:
        assert await client.actions.get("log")
        assert client.connection_stats() == {"in_use": 0, "idle": 1}  # kept alive for the next call
    assert client.closed
    await client.aclose()  # idempotent
    with pytest.raises(BudError, match="closed"):
        await client.actions.get("log")


async def test_with_options_shares_the_pool(bud_url: str, make_client: ClientFactory) -> None:
    client = make_client(bud_url, max_retries=5)
    fast = client.with_options(timeout=2.5, max_retries=0)
    assert (fast.max_retries, fast.timeout.total, client.max_retries, client.timeout.total) == (
        0,
        2.5,
        5,
        None,
    )
    await client.actions.get("log")
    await fast.actions.get("log")
    assert client.connection_stats()["idle"] == 1  # one socket served both
    async with fast:
        pass  # closing a copy leaves the shared pool open
    assert not client.closed
    assert await client.actions.get("delay")


async def test_a_copy_shares_the_pool_and_closing_it_leaves_the_original_open(
    bud_url: str, make_client: ClientFactory
) -> None:
    """openai users reach for copy.copy; a plain copy used to own the session and close it."""
    client = make_client(bud_url, max_retries=4)
    for duplicate in (copy.copy(client), copy.deepcopy(client)):
        assert duplicate is not client and duplicate.max_retries == 4
        assert await duplicate.actions.get("log")
        await duplicate.aclose()
        assert not client.closed
    assert await client.actions.get("log")


async def test_an_unawaited_list_call_refuses_to_be_a_condition(bud_client: AsyncBudClient) -> None:
    with pytest.raises(TypeError, match="await"):
        if bud_client.executions.list(status="failed"):
            pass
    assert not await bud_client.executions.list(status="failed")  # the awaited page: empty, falsy


async def test_unclosed_client_warns_on_collection(bud_url: str) -> None:
    client = AsyncBudClient(base_url=bud_url)
    await client.actions.get("log")
    transport: Any = client._transport
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del client
        gc.collect()
    assert any(
        issubclass(w.category, ResourceWarning) and "unclosed AsyncBudClient" in str(w.message)
        for w in caught
    )
    await transport.aclose()  # tidy up what the test leaked on purpose


def test_never_used_client_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = AsyncBudClient()
        del client
        gc.collect()


async def test_use_from_another_event_loop_is_a_clear_error(bud_url: str) -> None:
    """Two loops in a worker thread share one client; the server keeps running on this test's loop."""

    def drive() -> str:
        client = AsyncBudClient(base_url=bud_url)
        first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
        try:
            first.run_until_complete(client.actions.get("log"))
            with pytest.raises(BudError, match="event loop") as caught:
                second.run_until_complete(client.actions.get("log"))
            with pytest.raises(BudError, match="event loop"):
                second.run_until_complete(client.aclose())
            first.run_until_complete(client.aclose())
            return str(caught.value)
        finally:
            first.close()
            second.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        message = await asyncio.get_running_loop().run_in_executor(pool, drive)
    assert "one client per event loop" in message


async def test_per_call_and_per_client_timeouts(bud_url: str, make_client: ClientFactory) -> None:
    client = make_client(bud_url, max_retries=0)
    pipeline = await client.pipelines.create(name="slow", definition={"steps": [delay_step("d", 30)]})
    execution = await client.executions.create(pipeline.id)
    path = f"/budpipeline/executions/{execution.id}"
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(APITimeoutError):  # a long-poll longer than the read timeout
        await client.request("GET", path, params=[("wait", "5")], timeout=Timeout(read=0.2))
    assert loop.time() - started < 2
    with pytest.raises(APITimeoutError):
        await client.with_options(timeout=0.2).request("GET", path, params=[("wait", "5")])
    assert (await client.executions.get(execution.id)).status == "running"  # still usable
    await client.executions.cancel(execution.id)


async def test_connection_refused_is_retried_then_raised(make_client: ClientFactory) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}", max_retries=2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(APIConnectionError) as caught:
        await client.pipelines.list()
    assert not isinstance(caught.value, APITimeoutError)
    assert loop.time() - started < 1  # fast retries of the fixture


async def test_api_key_is_sent(
    make_bud_server: Any, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await make_bud_server(api_key="sk-test")
    url = str(server.make_url("")).rstrip("/")
    with pytest.raises(AuthenticationError) as caught:
        await make_client(url, api_key="").pipelines.list()
    assert caught.value.status_code == 401 and caught.value.request_id
    monkeypatch.setenv("BUDAI_API_KEY", "sk-test")
    client = make_client(url)
    assert (await client.pipelines.list()).total == 0
    with pytest.raises(AuthenticationError):
        await make_client(url, api_key="wrong").pipelines.list()


async def test_connection_limit_and_keepalive_options(bud_url: str, make_client: ClientFactory) -> None:
    client = make_client(bud_url, max_connections=2, keepalive_timeout=None)
    await asyncio.gather(*(client.actions.get("log") for _ in range(20)))
    assert client.connection_stats() == {"in_use": 0, "idle": 0}  # keep-alive off: sockets closed


async def test_explicit_idempotency_key_makes_a_create_repeatable(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    pipeline = await make_pipeline(log_step("a"))
    first = await bud_client.executions.create(pipeline.id, idempotency_key="order-42")
    again = await bud_client.executions.create(pipeline.id, idempotency_key="order-42")
    assert again.id == first.id
    assert (await bud_client.executions.list(pipeline_id=pipeline.id)).total == 1
    other = await bud_client.executions.create(pipeline.id)
    assert other.id != first.id
