"""Durability of the outbox: a server app stopped and a new one started on the same SQLite file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from api_support import LOG_DEFINITION, Client, create_pipeline, execute, wait_done
from outbox_support import SECRET, Endpoint, callbacks_of, check_signature, wait_delivery

from budai_async.webhooks import decode_secret
from budai_server.appkeys import OUTBOX
from budai_server.config import ServerConfig

Start = Callable[..., Awaitable[tuple[TestServer, Client]]]


@pytest.fixture
def start(make_bud_server: Any, aiohttp_client: Any) -> Start:
    """Start a real server (on the test's one SQLite file); returns it and an API client."""

    async def run(**overrides: Any) -> tuple[TestServer, Client]:
        settings: dict[str, Any] = {"webhook_secret": SECRET, "callback_jitter": 0.0}
        settings.update(overrides)
        server: TestServer = await make_bud_server(**settings)
        client: Client = await aiohttp_client(server)
        return server, client

    return run


@pytest.fixture
async def endpoint_url(aiohttp_server: Any) -> Callable[[Endpoint], Awaitable[str]]:
    async def serve(endpoint: Endpoint) -> str:
        server: TestServer = await aiohttp_server(endpoint.app())
        return str(server.make_url("/hook"))

    return serve


async def test_pending_delivery_is_sent_by_the_next_server(
    start: Start, endpoint_url: Callable[[Endpoint], Awaitable[str]]
) -> None:
    endpoint = Endpoint([503])
    url = await endpoint_url(endpoint)
    # After the first failure the next attempt is due in 0.4 s: the first server is gone by then.
    server, api = await start(callback_retry_schedule=(0.0, 0.4, 0.03))
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    created = await execute(api, pipeline["id"], params={"who": "x"}, callbacks={"on_complete": url})
    pending = await wait_delivery(api, created["id"], until=lambda d: d["attempt_count"] == 1)
    assert pending["status"] == "pending" and pending["next_attempt_at"] is not None
    await server.close()
    assert len(endpoint.hits) == 1

    _server, api = await start(callback_retry_schedule=(0.0, 0.4, 0.03))
    delivery = await wait_delivery(api, created["id"])
    assert delivery["status"] == "delivered"
    assert [(a["status_code"], a["outcome"]) for a in delivery["attempts"]] == [
        (503, "retry"),
        (200, "delivered"),
    ]
    first, second = endpoint.hits
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery["id"]
    assert first.body == second.body
    check_signature(first)
    check_signature(second)


async def test_attempt_cut_off_by_shutdown_is_sent_again_after_restart(
    start: Start, endpoint_url: Callable[[Endpoint], Awaitable[str]]
) -> None:
    endpoint = Endpoint([30.0])  # the first request hangs past the shutdown grace period
    url = await endpoint_url(endpoint)
    server, api = await start(shutdown_grace_seconds=0.2, callback_timeout_seconds=60.0)
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    created = await execute(api, pipeline["id"], params={"who": "x"}, callbacks={"on_complete": url})
    await endpoint.wait_hits(1)
    await server.close()  # cancels the attempt in flight; it is not recorded

    _server, api = await start()
    delivery = await wait_delivery(api, created["id"])
    assert delivery["status"] == "delivered"
    assert [(a["number"], a["status_code"]) for a in delivery["attempts"]] == [(1, 200)]
    assert [hit.headers["webhook-id"] for hit in endpoint.hits] == [delivery["id"]] * 2


def _forget_deliveries(db: Path, *, installed_at: str | None = None) -> None:
    """Simulate a crash between the final state's commit and the delivery's enqueue."""
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM callback_attempts")
        conn.execute("DELETE FROM callback_deliveries")
        if installed_at is not None:
            conn.execute(
                "UPDATE callback_outbox_meta SET value = ? WHERE key = 'installed_at'", (installed_at,)
            )
    conn.close()


async def test_execution_that_ended_without_a_delivery_row_is_swept_at_start(
    start: Start, endpoint_url: Callable[[Endpoint], Awaitable[str]], server_config: ServerConfig
) -> None:
    endpoint = Endpoint()
    url = await endpoint_url(endpoint)
    server, api = await start()
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    created = await execute(api, pipeline["id"], params={"who": "x"}, callbacks={"on_complete": url})
    await wait_delivery(api, created["id"])
    await server.close()
    _forget_deliveries(server_config.db_path)

    _server, api = await start()
    delivery = await wait_delivery(api, created["id"])
    assert delivery["status"] == "delivered"
    first, second = await endpoint.wait_hits(2)
    # The webhook-id and the body are derived from the stored execution: a receiver dedupes them.
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery["id"]
    assert json.loads(first.body) == json.loads(second.body)


async def test_executions_older_than_the_outbox_are_not_swept(
    start: Start, endpoint_url: Callable[[Endpoint], Awaitable[str]], server_config: ServerConfig
) -> None:
    endpoint = Endpoint()
    url = await endpoint_url(endpoint)
    server, api = await start()
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    created = await execute(api, pipeline["id"], params={"who": "x"}, callbacks={"on_complete": url})
    await wait_delivery(api, created["id"])
    await server.close()
    _forget_deliveries(server_config.db_path, installed_at="9999-01-01T00:00:00.000000Z")

    _server, api = await start()
    later = await execute(api, pipeline["id"], params={"who": "y"}, callbacks={"on_complete": url})
    await wait_delivery(api, later["id"])  # the new server delivers; the old execution stays quiet
    assert await callbacks_of(api, created["id"]) == []
    assert [json.loads(hit.body)["execution_id"] for hit in endpoint.hits] == [created["id"], later["id"]]


async def test_generated_secret_is_kept_in_the_database(
    start: Start, endpoint_url: Callable[[Endpoint], Awaitable[str]]
) -> None:
    endpoint = Endpoint()
    url = await endpoint_url(endpoint)
    server, api = await start(webhook_secret=None)
    secret = server.app[OUTBOX].secret
    assert secret.startswith("whsec_") and len(decode_secret(secret)) == 32
    created = await execute(
        api,
        (await create_pipeline(api, LOG_DEFINITION))["id"],
        params={"who": "x"},
        callbacks={"on_complete": url},
    )
    await wait_done(api, created["id"])
    await wait_delivery(api, created["id"])
    check_signature(endpoint.hits[0], secret)
    await server.close()

    again, _api = await start(webhook_secret=None)
    assert again.app[OUTBOX].secret == secret
    assert again.app[OUTBOX].secret_from_store
    configured, _api = await start(webhook_secret=SECRET)
    assert configured.app[OUTBOX].secret == SECRET
    assert not configured.app[OUTBOX].secret_from_store
