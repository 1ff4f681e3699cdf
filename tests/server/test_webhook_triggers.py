"""Inbound webhook triggers through the real server: signed, stale, tampered and replayed messages,
the expected headers, rotation, the authenticated SDK path, and no API key on the public path."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import attrs
import pytest
from aiohttp.test_utils import TestClient, TestServer
from api_support import LOG_DEFINITION, create_pipeline, json_of, wait_done
from trigger_support import T0, start

from budai_async.webhooks import signature_headers
from budai_server.appkeys import STORE
from budai_server.config import ServerConfig
from budai_server.triggers.clock import FakeClock

Client = TestClient[Any, Any]
KEY = "trigger-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def server(aiohttp_server: Any, server_config: ServerConfig, clock: FakeClock) -> TestServer:
    return await start(aiohttp_server, attrs.evolve(server_config, api_key=KEY), clock)


@pytest.fixture
async def client(aiohttp_client: Any, server: TestServer) -> Client:
    result: Client = await aiohttp_client(server, headers=AUTH)
    return result


@pytest.fixture
async def anonymous(aiohttp_client: Any, server: TestServer) -> Client:
    result: Client = await aiohttp_client(server)
    return result


async def make_webhook(client: Client, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    body = {"pipeline_id": pipeline["id"], "name": "github push", **fields}
    created = await json_of(client, "POST", "/budpipeline/webhooks", json=body, expect=201)
    return pipeline, created


def signed(secret: str, payload: Any, when: Any, msg_id: str = "msg_1") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    headers = signature_headers(secret, msg_id, body, int(when.timestamp()))
    return body, {**headers, "Content-Type": "application/json"}


async def test_a_signed_message_starts_the_pipeline_with_the_body_as_params(
    client: Client, anonymous: Client
) -> None:
    pipeline, created = await make_webhook(client, params={"who": "default"}, tags=["gh"])
    assert created["secret"].startswith("whsec_") and created["webhook_id"] == created["id"]
    assert created["url"].endswith(f"/budpipeline/trigger/{created['id']}")
    shown = await json_of(client, "GET", f"/budpipeline/webhooks/{created['id']}", expect=200)
    assert "secret" not in shown and shown["secret_hash"].startswith("sha256:")

    body, headers = signed(created["secret"], {"who": "push"}, T0)
    path = f"/budpipeline/trigger/{created['id']}"
    answer = await json_of(anonymous, "POST", path, data=body, headers=headers, expect=202)
    assert answer["webhook_id"] == created["id"] and answer["duplicate"] is False
    execution = await wait_done(client, answer["execution_id"])
    assert execution["pipeline_id"] == pipeline["id"] and execution["tags"] == ["gh"]
    assert execution["outputs"] == {"shouted": "PUSH"}

    # The same webhook-id again (a redelivery): the same execution, nothing new started.
    again = await json_of(anonymous, "POST", path, data=body, headers=headers, expect=200)
    assert again["execution_id"] == answer["execution_id"] and again["duplicate"] is True
    page = await json_of(
        client, "GET", "/budpipeline/executions", params={"pipeline_id": pipeline["id"]}, expect=200
    )
    assert page["total"] == 1
    shown = await json_of(client, "GET", f"/budpipeline/webhooks/{created['id']}", expect=200)
    assert shown["trigger_count"] == 1 and shown["last_triggered_at"] == "2026-01-05T08:00:00Z"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("stale", "timestamp_too_old"),
        ("future", "timestamp_too_new"),
        ("tampered", "bad_signature"),
        ("wrong_secret", "bad_signature"),
        ("unsigned", "missing_header"),
    ],
)
async def test_bad_signatures_are_refused_401(
    client: Client, anonymous: Client, change: str, reason: str
) -> None:
    _pipeline, created = await make_webhook(client)
    secret = created["secret"]
    when = T0
    if change == "stale":
        when = T0 - timedelta(seconds=301)
    elif change == "future":
        when = T0 + timedelta(seconds=301)
    elif change == "wrong_secret":
        secret = "whsec_" + "QUJD" * 11
    body, headers = signed(secret, {"who": "x"}, when)
    if change == "tampered":
        body = body.replace(b"x", b"y")
    if change == "unsigned":
        headers = {"Content-Type": "application/json"}
    answer = await json_of(
        anonymous, "POST", f"/budpipeline/trigger/{created['id']}", data=body, headers=headers, expect=401
    )
    assert answer["error"]["code"] == "invalid_signature"
    assert answer["error"]["details"]["reason"] == reason


async def test_expected_headers_must_match(client: Client, anonymous: Client) -> None:
    _pipeline, created = await make_webhook(client, headers={"X-GitHub-Event": "push"})
    body, headers = signed(created["secret"], {}, T0)
    path = f"/budpipeline/trigger/{created['id']}"
    refused = await json_of(anonymous, "POST", path, data=body, headers=headers, expect=401)
    assert refused["error"]["details"]["reason"] == "header_mismatch"
    await json_of(
        anonymous, "POST", path, data=body, headers={**headers, "X-GitHub-Event": "push"}, expect=202
    )


async def test_rotation_shows_a_new_secret_once_and_the_old_one_stops_working(
    client: Client, anonymous: Client
) -> None:
    _pipeline, created = await make_webhook(client)
    path = f"/budpipeline/trigger/{created['id']}"
    rotate = f"/budpipeline/webhooks/{created['id']}/rotate-secret"
    refused = await json_of(client, "POST", rotate, json={"secret": "mine"}, expect=422)  # `EmptyBody`
    assert [detail["path"] for detail in refused["error"]["details"]] == ["secret"]
    listed = await json_of(client, "GET", "/budpipeline/webhooks", expect=200)
    assert listed["items"][0]["secret_hash"] == created["secret_hash"]  # a refused call rotates nothing
    rotated = await json_of(
        client, "POST", f"/budpipeline/webhooks/{created['id']}/rotate-secret", json={}, expect=200
    )
    assert rotated["secret"] != created["secret"] and rotated["webhook_id"] == created["id"]
    assert rotated["secret_hash"] != created["secret_hash"]
    listed = await json_of(client, "GET", "/budpipeline/webhooks", expect=200)
    assert listed["items"][0]["secret_hash"] == rotated["secret_hash"]
    body, headers = signed(created["secret"], {}, T0, "old")
    await json_of(anonymous, "POST", path, data=body, headers=headers, expect=401)
    body, headers = signed(rotated["secret"], {}, T0, "new")
    await json_of(anonymous, "POST", path, data=body, headers=headers, expect=202)


async def test_management_routes_need_the_api_key_and_sdk_trigger_path_works(
    client: Client, anonymous: Client
) -> None:
    pipeline, created = await make_webhook(client)
    await json_of(anonymous, "GET", "/budpipeline/webhooks", expect=401)
    await json_of(anonymous, "POST", f"/budpipeline/webhooks/{created['id']}/trigger", json={}, expect=401)
    answer = await json_of(
        client,
        "POST",
        f"/budpipeline/webhooks/{created['id']}/trigger",
        json={"payload": {"who": "sdk"}},
        expect=202,
    )
    execution = await wait_done(client, answer["execution_id"])
    assert execution["outputs"] == {"shouted": "SDK"}
    listed = await json_of(
        client, "GET", "/budpipeline/webhooks", params={"pipeline_id": pipeline["id"]}, expect=200
    )
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    await json_of(client, "DELETE", f"/budpipeline/webhooks/{created['id']}", expect=204)
    body, headers = signed(created["secret"], {}, T0)
    await json_of(
        anonymous, "POST", f"/budpipeline/trigger/{created['id']}", data=body, headers=headers, expect=404
    )


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "x"}, "pipeline_id"),
        ({"name": "x", "pipeline_id": "P", "workflow_id": "P"}, "workflow_id"),
        ({"pipeline_id": "P"}, "name"),
        ({"pipeline_id": "P", "name": "x", "headers": {"a": 1}}, "headers"),
        ({"pipeline_id": "P", "name": "x", "priority": "urgent"}, "priority"),
    ],
)
async def test_bad_webhook_bodies_name_the_field(client: Client, body: dict[str, Any], path: str) -> None:
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    if body.get("pipeline_id") == "P":
        body = {**body, "pipeline_id": pipeline["id"]}
    answer = await json_of(client, "POST", "/budpipeline/webhooks", json=body, expect=422)
    assert path in [detail["path"] for detail in answer["error"]["details"]]


async def test_message_ids_are_forgotten_only_after_their_timestamps_expired(
    client: Client, anonymous: Client, server: TestServer, clock: FakeClock
) -> None:
    from budai_server.triggers.webhook_store import WebhookStore

    _pipeline, created = await make_webhook(client)
    path = f"/budpipeline/trigger/{created['id']}"
    body, headers = signed(created["secret"], {}, T0, "kept")
    first = await json_of(anonymous, "POST", path, data=body, headers=headers, expect=202)
    webhooks = WebhookStore(server.app[STORE])
    assert await webhooks.purge_messages(T0 - timedelta(seconds=1)) == 0
    again = await json_of(anonymous, "POST", path, data=body, headers=headers, expect=200)
    assert again["execution_id"] == first["execution_id"]
    assert await webhooks.purge_messages(T0 + timedelta(days=1)) == 1
    # The old delivery can no longer replay: its timestamp is far outside the window now.
    clock.set(T0 + timedelta(days=1))
    stale = await json_of(anonymous, "POST", path, data=body, headers=headers, expect=401)
    assert stale["error"]["details"]["reason"] == "timestamp_too_old"
