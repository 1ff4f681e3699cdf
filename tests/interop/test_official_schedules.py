"""The official `bud` SDK's schedules, webhooks and event-trigger calls against our server.

The SDK is a test peer (never imported by project code): code written for the real gateway must
run against the local server unchanged.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

bud = pytest.importorskip("bud")

from bud.exceptions import NotFoundError  # noqa: E402

from budai_async.webhooks import signature_headers  # noqa: E402

LOG_DEFINITION: dict[str, Any] = {
    "steps": [
        {
            "id": "shout",
            "action": "transform",
            "params": {"input": "{{ params.who }}", "operation": "uppercase"},
        }
    ],
    "outputs": {"shouted": "{{ steps.shout.output.result }}"},
}


async def create_pipeline(api: TestClient[Any, Any], definition: dict[str, Any], name: str = "p") -> Any:
    response = await api.post("/budpipeline", json={"name": name, "definition": definition})
    assert response.status == 201, await response.text()
    return await response.json()


async def wait_done(api: TestClient[Any, Any], execution_id: str) -> Any:
    response = await api.get(f"/budpipeline/executions/{execution_id}", params={"wait": "10"})
    execution = await response.json()
    assert execution["status"] not in ("pending", "running"), execution
    return execution


@pytest.fixture
async def official(bud_url: str) -> Any:
    client = bud.AsyncBudClient(api_key="any-key", base_url=bud_url, max_retries=0)
    yield client
    await client._http.close()


async def test_official_schedule_calls(api: TestClient[Any, Any], official: Any) -> None:
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    schedule = await official.schedules.create(
        pipeline["id"], name="nightly", cron="0 2 * * *", timezone="Europe/Berlin", params={"who": "bud"}
    )
    assert schedule.pipeline_id == pipeline["id"] and schedule.cron == "0 2 * * *"
    assert schedule.status == "active" and schedule.next_run_at is not None and schedule.run_count == 0
    assert schedule.params == {"who": "bud"} and schedule.timezone == "Europe/Berlin"

    listed = await official.schedules.list(pipeline_id=pipeline["id"], page=1, per_page=10)
    assert [item.id for item in listed] == [schedule.id]
    got = await official.schedules.get(schedule.id)
    assert got.name == "nightly"
    updated = await official.schedules.update(schedule.id, cron="*/5 * * * *", name="often")
    assert updated.cron == "*/5 * * * *" and updated.name == "often"
    paused = await official.schedules.pause(schedule.id)
    assert paused.status == "paused"
    resumed = await official.schedules.resume(schedule.id)
    assert resumed.status == "active"

    execution = await official.schedules.trigger(schedule.id)
    assert execution.effective_pipeline_id == pipeline["id"] and execution.params == {"who": "bud"}
    done = await wait_done(api, execution.effective_id)
    assert done["outputs"] == {"shouted": "BUD"}
    assert (await official.schedules.get(schedule.id)).run_count == 1

    await official.schedules.delete(schedule.id)
    with pytest.raises(NotFoundError):
        await official.schedules.get(schedule.id)


async def test_official_webhook_calls(api: TestClient[Any, Any], official: Any) -> None:
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    created = await official.webhooks.create(pipeline["id"], name="gh", headers={"X-Source": "ci"})
    assert created.secret.startswith("whsec_") and created.url.endswith(created.webhook_id)
    hook = await official.webhooks.get(created.webhook_id)
    assert hook.pipeline_id == pipeline["id"] and hook.headers == {"x-source": "ci"}
    assert hook.secret_hash and created.secret not in json.dumps(hook.model_dump(mode="json"))
    assert [item.id for item in await official.webhooks.list(pipeline_id=pipeline["id"])] == [hook.id]

    result = await official.webhooks.trigger(created.webhook_id, payload={"who": "official"})
    assert result.webhook_id == created.webhook_id
    assert (await wait_done(api, result.execution_id))["outputs"] == {"shouted": "OFFICIAL"}

    rotated = await official.webhooks.rotate_secret(created.webhook_id)
    assert rotated.secret != created.secret
    # A sender signs with the rotated secret and posts to the URL the SDK was given.
    body = json.dumps({"who": "sender"}).encode()
    headers = {**signature_headers(rotated.secret, "evt-1", body, int(time.time())), "X-Source": "ci"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(rotated.url, data=body, headers=headers) as answer,
    ):
        assert answer.status == 202
        started = await answer.json()
    assert (await wait_done(api, started["execution_id"]))["outputs"] == {"shouted": "SENDER"}
    assert (await official.webhooks.get(created.webhook_id)).trigger_count == 2

    await official.webhooks.delete(created.webhook_id)
    with pytest.raises(NotFoundError):
        await official.webhooks.get(created.webhook_id)


async def test_official_event_trigger_calls(api: TestClient[Any, Any], official: Any) -> None:
    source = await create_pipeline(api, LOG_DEFINITION, name="source")
    target = await create_pipeline(api, LOG_DEFINITION, name="target")
    created = await official.events.create_trigger(
        target["id"],
        name="after source",
        event_type="execution.completed",
        filter={"pipeline_id": source["id"]},
    )
    assert created.event_type == "execution.completed" and created.filter == {"pipeline_id": source["id"]}
    assert [t.id for t in await official.events.list_triggers(pipeline_id=target["id"])] == [created.id]
    assert (await official.events.get_trigger(created.id)).name == "after source"
    await official.events.delete_trigger(created.id)
    with pytest.raises(NotFoundError):
        await official.events.get_trigger(created.id)
