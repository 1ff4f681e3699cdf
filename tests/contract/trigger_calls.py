"""The trigger routes' part of `test_openapi_calls`: every schedule, webhook-trigger and event-trigger
operation answered once with success and once refused, each answer checked against the document."""

from __future__ import annotations

import json
import time
from typing import Any

from openapi_contract import Client, Contract

from budai_async.webhooks import signature_headers

UNKNOWN = "nope_" + "0" * 32


async def _schedules(contract: Contract, client: Client, pipeline_id: str) -> None:
    base = "/budpipeline/schedules"
    item = base + "/{schedule_id}"
    service_shape = {
        "workflow_id": pipeline_id,
        "name": "nightly",
        "schedule": {"type": "cron", "expression": "0 2 * * *", "timezone": "Europe/Berlin"},
        "params": {"who": "cron"},
    }
    created = await contract.call(client, "POST", base, 201, json=service_shape)
    await contract.call(
        client, "POST", base, 201, json={"pipeline_id": pipeline_id, "name": "sdk", "cron": "@hourly"}
    )
    refused = await contract.call(
        client, "POST", base, 422, json={**service_shape, "schedule": {"expression": "0 25 * * *"}}
    )
    assert refused["error"]["code"] == "invalid_schedule"
    await contract.call(client, "POST", base, 404, json={**service_shape, "workflow_id": UNKNOWN})
    page = await contract.call(client, "GET", base, 200, params={"pipeline_id": pipeline_id, "per_page": "5"})
    assert page["total"] == 2
    await contract.call(client, "GET", base, 422, params={"status": "sleeping"})
    ids = {"schedule_id": created["id"]}
    unknown = {"schedule_id": UNKNOWN}
    await contract.call(client, "GET", item, 200, path_params=ids)
    await contract.call(client, "GET", item, 404, path_params=unknown)
    await contract.call(client, "PATCH", item, 200, path_params=ids, json={"cron": "@every 1h30m"})
    await contract.call(client, "PATCH", item, 422, path_params=ids, json={"catchup": "never"})
    await contract.call(
        client, "PUT", item, 200, path_params=ids, json={"name": "renamed", "overlap": "allow_all"}
    )
    await contract.call(client, "PUT", item, 404, path_params=unknown, json={"name": "x"})
    await contract.call(client, "POST", item + "/pause", 200, path_params=ids, json={})
    await contract.call(client, "POST", item + "/pause", 404, path_params=unknown)
    await contract.call(client, "POST", item + "/resume", 200, path_params=ids)
    await contract.call(client, "POST", item + "/resume", 404, path_params=unknown)
    started = await contract.call(client, "POST", item + "/trigger", 201, path_params=ids, json={})
    assert started["execution_id"] == started["id"]
    await contract.call(client, "POST", item + "/trigger", 404, path_params=unknown)
    runs = await contract.call(
        client, "GET", item + "/next-runs", 200, path_params=ids, params={"count": "2"}
    )
    assert len(runs["next_runs"]) == 2
    await contract.call(client, "GET", item + "/next-runs", 422, path_params=ids, params={"count": "0"})
    recorded = await contract.call(client, "GET", item + "/runs", 200, path_params=ids)
    assert [run["kind"] for run in recorded["items"]] == ["manual"]
    await contract.call(client, "GET", item + "/runs", 404, path_params=unknown)
    await contract.call(client, "DELETE", item, 204, path_params=ids)
    await contract.call(client, "DELETE", item, 404, path_params=ids)


async def _webhooks(contract: Contract, client: Client, pipeline_id: str) -> None:
    base = "/budpipeline/webhooks"
    item = base + "/{webhook_id}"
    created = await contract.call(client, "POST", base, 201, json={"pipeline_id": pipeline_id, "name": "gh"})
    await contract.call(client, "POST", base, 422, json={"pipeline_id": pipeline_id})
    await contract.call(client, "GET", base, 200, params={"pipeline_id": pipeline_id})
    await contract.call(client, "GET", base, 422, params={"per_page": "0"})
    ids = {"webhook_id": created["id"]}
    unknown = {"webhook_id": UNKNOWN}
    await contract.call(client, "GET", item, 200, path_params=ids)
    await contract.call(client, "GET", item, 404, path_params=unknown)
    rotated = await contract.call(client, "POST", item + "/rotate-secret", 200, path_params=ids)
    await contract.call(client, "POST", item + "/rotate-secret", 404, path_params=unknown)
    await contract.call(
        client, "POST", item + "/trigger", 202, path_params=ids, json={"payload": {"who": "sdk"}}
    )
    await contract.call(client, "POST", item + "/trigger", 404, path_params=unknown, json={})
    public = "/budpipeline/trigger/{webhook_id}"
    body = json.dumps({"who": "sender"}).encode()
    signed = {
        **signature_headers(rotated["secret"], "contract-1", body, int(time.time())),
        "Authorization": "",
        "Content-Type": "application/json",
    }
    await contract.call(client, "POST", public, 202, path_params=ids, data=body, headers=signed)
    await contract.call(client, "POST", public, 200, path_params=ids, data=body, headers=signed)
    await contract.call(client, "POST", public, 401, path_params=ids, data=body + b" ", headers=signed)
    await contract.call(client, "DELETE", item, 204, path_params=ids)
    await contract.call(client, "DELETE", item, 404, path_params=ids)


async def _event_triggers(contract: Contract, client: Client, pipeline_id: str) -> None:
    base = "/event-triggers"
    item = base + "/{trigger_id}"
    body: dict[str, Any] = {
        "pipeline_id": pipeline_id,
        "name": "after",
        "event_type": "execution.failed",
        "filter": {"pipeline_id": pipeline_id},
    }
    created = await contract.call(client, "POST", base, 201, json=body)
    await contract.call(client, "POST", base, 422, json={**body, "event_type": "model.onboarded"})
    await contract.call(client, "GET", base, 200, params={"event_type": "execution.failed"})
    await contract.call(client, "GET", base, 422, params={"event_type": "cluster.unhealthy"})
    ids = {"trigger_id": created["id"]}
    unknown = {"trigger_id": UNKNOWN}
    await contract.call(client, "GET", item, 200, path_params=ids)
    await contract.call(client, "GET", item, 404, path_params=unknown)
    await contract.call(client, "PATCH", item, 200, path_params=ids, json={"is_active": False})
    await contract.call(client, "PATCH", item, 422, path_params=ids, json={"max_chain_depth": 0})
    await contract.call(client, "PUT", item, 200, path_params=ids, json={"max_chain_depth": 3})
    await contract.call(client, "PUT", item, 404, path_params=unknown, json={})
    await contract.call(client, "GET", item + "/firings", 200, path_params=ids)
    await contract.call(client, "GET", item + "/firings", 404, path_params=unknown)
    await contract.call(client, "DELETE", item, 204, path_params=ids)
    await contract.call(client, "DELETE", item, 404, path_params=ids)


async def trigger_calls(contract: Contract, client: Client, pipeline_id: str) -> None:
    """Walk every trigger operation both ways (needs a stored pipeline)."""
    await _schedules(contract, client, pipeline_id)
    await _webhooks(contract, client, pipeline_id)
    await _event_triggers(contract, client, pipeline_id)
