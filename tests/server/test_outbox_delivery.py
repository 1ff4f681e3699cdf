"""Callback delivery by the real server to a real (tiny) webhook endpoint: retries, 410, signatures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from api_support import (
    LOG_DEFINITION,
    Client,
    create_pipeline,
    delay_definition,
    execute,
    json_of,
    step,
    wait_done,
)
from outbox_support import (
    FAST_SCHEDULE,
    SECRET,
    Endpoint,
    callbacks_of,
    check_signature,
    free_port,
    wait_delivery,
)

StartServer = Callable[..., Awaitable[Client]]
StartEndpoint = Callable[[Endpoint], Awaitable[str]]


@pytest.fixture
def start_server(make_bud_server: Any, aiohttp_client: Any) -> StartServer:
    """A real server with signed, fast-retried callbacks; returns a client for its API."""

    async def start(**overrides: Any) -> Client:
        settings: dict[str, Any] = {
            "webhook_secret": SECRET,
            "callback_retry_schedule": FAST_SCHEDULE,
            "callback_jitter": 0.0,
        }
        settings.update(overrides)
        server: TestServer = await make_bud_server(**settings)
        client: Client = await aiohttp_client(server)
        return client

    return start


@pytest.fixture
def start_endpoint(aiohttp_server: Any) -> StartEndpoint:
    """Serve an `Endpoint`; returns its hook url."""

    async def start(endpoint: Endpoint) -> str:
        server: TestServer = await aiohttp_server(endpoint.app())
        return str(server.make_url("/hook"))

    return start


async def test_retried_after_500_with_same_id_and_fresh_valid_signatures(
    start_server: StartServer, start_endpoint: StartEndpoint
) -> None:
    endpoint = Endpoint([500, 200])
    url = await start_endpoint(endpoint)
    api = await start_server()
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    created = await execute(
        api,
        pipeline["id"],
        params={"who": "ada"},
        tags=["nightly"],
        callbacks={"on_complete": url, "on_failure": url + "?failed"},
    )
    execution = await wait_done(api, created["id"])
    delivery = await wait_delivery(api, created["id"])

    first, second = endpoint.hits
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery["id"]
    assert first.body == second.body
    for hit in endpoint.hits:
        check_signature(hit)
        assert hit.headers["Content-Type"] == "application/json"
        assert hit.headers["User-Agent"].startswith("budai-server/")
    body = json.loads(first.body)
    assert body["type"] == "execution.completed"
    assert body["execution_id"] == execution["id"]
    assert body["pipeline_id"] == pipeline["id"]
    assert body["status"] == "completed"
    assert body["outputs"] == execution["outputs"] == {"shouted": "ADA"}
    assert body["error"] is None
    assert body["tags"] == ["nightly"]
    assert body["params"] == {"who": "ada"}
    assert body["completed_at"] == execution["completed_at"]
    assert body["duration_seconds"] == execution["duration_seconds"]

    assert delivery["status"] == "delivered"
    assert delivery["type"] == "execution.completed"
    assert delivery["url"] == url
    assert delivery["attempt_count"] == 2
    assert delivery["max_attempts"] == len(FAST_SCHEDULE)
    assert delivery["next_attempt_at"] is None
    assert delivery["last_status_code"] == 200
    attempts = delivery["attempts"]
    assert [(a["number"], a["status_code"], a["outcome"]) for a in attempts] == [
        (1, 500, "retry"),
        (2, 200, "delivered"),
    ]
    assert attempts[0]["error"] == "HTTP 500: answer 500"
    assert attempts[1]["error"] is None


async def test_410_stops_retrying(start_server: StartServer, start_endpoint: StartEndpoint) -> None:
    endpoint = Endpoint([410], default=500)
    url = await start_endpoint(endpoint)
    api = await start_server()
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    created = await execute(api, pipeline["id"], params={"who": "x"}, callbacks={"on_complete": url})
    delivery = await wait_delivery(api, created["id"])
    assert delivery["status"] == "gone"
    assert [(a["status_code"], a["outcome"]) for a in delivery["attempts"]] == [(410, "gone")]
    await asyncio.sleep(sum(FAST_SCHEDULE) + 0.1)  # the whole schedule's span: nothing more is sent
    assert len(endpoint.hits) == 1


async def test_exhausted_schedule_fails_the_delivery(
    start_server: StartServer, start_endpoint: StartEndpoint
) -> None:
    endpoint = Endpoint(default=503)
    url = await start_endpoint(endpoint)
    api = await start_server(callback_retry_schedule=(0.0, 0.01, 0.01))
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    created = await execute(api, pipeline["id"], params={"who": "x"}, callbacks={"on_complete": url})
    delivery = await wait_delivery(api, created["id"])
    assert delivery["status"] == "failed"
    assert [a["outcome"] for a in delivery["attempts"]] == ["retry", "retry", "failed"]
    assert delivery["next_attempt_at"] is None
    await asyncio.sleep(0.1)
    assert len(endpoint.hits) == 3


async def test_timeouts_and_connection_errors_are_retried(
    start_server: StartServer, start_endpoint: StartEndpoint
) -> None:
    endpoint = Endpoint([2.0])  # the first answer takes longer than the attempt timeout
    url = await start_endpoint(endpoint)
    closed = f"http://127.0.0.1:{free_port()}/hook"
    api = await start_server(callback_timeout_seconds=0.2)
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    slow = await execute(api, pipeline["id"], params={"who": "x"}, callbacks={"on_complete": url})
    refused = await execute(api, pipeline["id"], params={"who": "y"}, callbacks={"on_complete": closed})

    delivered = await wait_delivery(api, slow["id"])
    assert delivered["status"] == "delivered"
    first, second = delivered["attempts"]
    assert (first["status_code"], first["outcome"]) == (None, "retry")
    assert first["error"] == "timed out after 0.2 s"
    assert 0.2 <= first["duration_seconds"] < 1.5
    assert (second["status_code"], second["outcome"]) == (200, "delivered")

    failed = await wait_delivery(api, refused["id"])
    assert failed["status"] == "failed"
    assert len(failed["attempts"]) == len(FAST_SCHEDULE)
    assert all(a["status_code"] is None and "Connect" in a["error"] for a in failed["attempts"])


@pytest.mark.parametrize(
    ("definition", "options", "status"),
    [
        ({"steps": [step("boom", "fail", message="it broke")]}, {}, "failed"),
        (delay_definition(5.0), {"timeout_seconds": 0.2}, "timeout"),
    ],
)
async def test_failed_and_timed_out_executions_go_to_on_failure(
    start_server: StartServer,
    start_endpoint: StartEndpoint,
    definition: dict[str, Any],
    options: dict[str, Any],
    status: str,
) -> None:
    complete, failure = Endpoint(), Endpoint()
    callbacks = {"on_complete": await start_endpoint(complete), "on_failure": await start_endpoint(failure)}
    api = await start_server()
    pipeline = await create_pipeline(api, definition)
    created = await execute(api, pipeline["id"], callbacks=callbacks, **options)
    execution = await wait_done(api, created["id"])
    assert execution["status"] == status
    delivery = await wait_delivery(api, created["id"])
    assert (delivery["status"], delivery["type"], delivery["url"]) == (
        "delivered",
        "execution.failed",
        callbacks["on_failure"],
    )
    (hit,) = failure.hits
    check_signature(hit)
    body = json.loads(hit.body)
    assert (body["type"], body["status"], body["error"]) == ("execution.failed", status, execution["error"])
    assert body["error"]
    assert complete.hits == []


async def test_cancelled_execution_goes_to_on_failure(
    start_server: StartServer, start_endpoint: StartEndpoint
) -> None:
    failure = Endpoint()
    url = await start_endpoint(failure)
    api = await start_server()
    pipeline = await create_pipeline(api, delay_definition(5.0))
    created = await execute(api, pipeline["id"], callbacks={"on_failure": url})
    await json_of(api, "POST", f"/budpipeline/executions/{created['id']}/cancel", expect=200)
    delivery = await wait_delivery(api, created["id"])
    assert delivery["status"] == "delivered"
    body = json.loads(failure.hits[0].body)
    assert (body["type"], body["status"]) == ("execution.failed", "cancelled")


async def test_no_delivery_without_a_url_for_how_it_ended(
    start_server: StartServer, start_endpoint: StartEndpoint
) -> None:
    endpoint = Endpoint()
    url = await start_endpoint(endpoint)
    api = await start_server()
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    created = await execute(api, pipeline["id"], params={"who": "x"}, callbacks={"on_failure": url})
    await wait_done(api, created["id"])
    without = await execute(api, pipeline["id"], params={"who": "y"})
    await wait_done(api, without["id"])
    await asyncio.sleep(0.1)
    assert await callbacks_of(api, created["id"]) == []
    assert await callbacks_of(api, without["id"]) == []
    assert endpoint.hits == []


async def test_unknown_execution_is_404(start_server: StartServer) -> None:
    api = await start_server()
    body = await json_of(api, "GET", "/budpipeline/executions/exec_nope/callbacks", expect=404)
    assert body["error"]["code"] == "not_found"
    assert body["error"]["details"]["id"] == "exec_nope"


async def test_concurrent_deliveries_are_bounded(
    start_server: StartServer, start_endpoint: StartEndpoint
) -> None:
    gate = asyncio.Event()
    endpoint = Endpoint(gate=gate)  # holds every answer until the gate opens
    url = await start_endpoint(endpoint)
    api = await start_server(max_concurrent_callbacks=2, max_concurrent_executions=8)
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    created = [
        await execute(api, pipeline["id"], params={"who": str(n)}, callbacks={"on_complete": url})
        for n in range(6)
    ]
    for execution in created:
        await wait_done(api, execution["id"])
    await endpoint.wait_hits(2)
    await asyncio.sleep(0.2)  # six deliveries are due; only two may be in flight
    assert (len(endpoint.hits), endpoint.active) == (2, 2)
    gate.set()
    for execution in created:
        assert (await wait_delivery(api, execution["id"]))["status"] == "delivered"
    assert len(endpoint.hits) == 6
    assert endpoint.peak == 2
    assert len({hit.headers["webhook-id"] for hit in endpoint.hits}) == 6


async def test_metrics_count_deliveries_by_outcome(
    start_server: StartServer, start_endpoint: StartEndpoint
) -> None:
    ok, gone = Endpoint([500, 200]), Endpoint([410])
    ok_url, gone_url = await start_endpoint(ok), await start_endpoint(gone)
    api = await start_server()
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    first = await execute(api, pipeline["id"], params={"who": "a"}, callbacks={"on_complete": ok_url})
    second = await execute(api, pipeline["id"], params={"who": "b"}, callbacks={"on_complete": gone_url})
    await wait_delivery(api, first["id"])
    await wait_delivery(api, second["id"])
    response = await api.get("/metrics")
    lines = set((await response.text()).splitlines())
    assert 'budai_callback_deliveries_total{outcome="delivered"} 1' in lines
    assert 'budai_callback_deliveries_total{outcome="gone"} 1' in lines
    assert 'budai_callback_attempts_total{result="retry"} 1' in lines
    assert "budai_callbacks_enqueued_total 2" in lines
    assert "budai_callbacks_pending 0" in lines
    assert "budai_callback_attempt_duration_seconds_count 3" in lines
