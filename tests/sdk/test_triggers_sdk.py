"""`client.schedules`, `client.webhooks` and `client.event_triggers` against the real server."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from budai_async import AsyncBudClient
from budai_async.errors import NotFoundError, UnprocessableEntityError, ValidationError
from budai_async.trigger_models import EventType, Schedule, ScheduleStatus, normalize_schedule
from budai_async.webhooks import signature_headers

LOG = {"steps": [{"id": "hello", "action": "log", "params": {"message": "hi {{ params.who }}"}}]}


async def test_schedule_lifecycle(bud_client: AsyncBudClient) -> None:
    pipeline = await bud_client.pipelines.create("nightly", LOG)
    schedule = await bud_client.schedules.create(
        pipeline.id,
        name="nightly",
        cron="0 2 * * *",
        timezone="Europe/Berlin",
        params={"who": "cron"},
        tags=["n"],
    )
    assert isinstance(schedule, Schedule) and schedule.status == ScheduleStatus.ACTIVE
    assert schedule.schedule.type == "cron" and schedule.cron == "0 2 * * *"
    runs = await bud_client.schedules.next_runs(schedule.id, count=3)
    assert len(runs) == 3 and all(run.tzinfo is not None for run in runs)
    assert all(run.astimezone(UTC).hour in (0, 1) for run in runs)  # 02:00 Berlin is 00:00/01:00 UTC
    assert runs == sorted(runs) and runs[0] > datetime.now(UTC)

    page = await bud_client.schedules.list(pipeline_id=pipeline.id)
    assert [item.id for item in page] == [schedule.id]
    paused = await bud_client.schedules.pause(schedule.id)
    assert paused.status == "paused" and paused.enabled is False and paused.next_run_at is None
    assert await bud_client.schedules.next_runs(schedule.id) == []
    resumed = await bud_client.schedules.resume(schedule.id)
    assert resumed.status == "active" and resumed.next_run_at is not None

    updated = await bud_client.schedules.update(schedule.id, cron="@every 1h30m", name="every 90")
    assert updated.schedule.type == "interval" and updated.name == "every 90"

    execution = await bud_client.schedules.trigger(schedule.id)
    done = await bud_client.executions.wait(execution.id, timeout=10)
    assert done.status == "completed" and done.params == {"who": "cron"} and done.tags == ["n"]
    [run] = await bud_client.schedules.runs(schedule.id)
    assert run.kind == "manual" and run.execution_id == execution.id

    await bud_client.schedules.delete(schedule.id)
    with pytest.raises(NotFoundError):
        await bud_client.schedules.get(schedule.id)


async def test_schedule_errors_are_typed(bud_client: AsyncBudClient) -> None:
    pipeline = await bud_client.pipelines.create("p", LOG)
    with pytest.raises(UnprocessableEntityError) as caught:
        await bud_client.schedules.create(pipeline.id, name="bad", cron="not a cron")
    assert "schedule.expression" in [d["path"] for d in caught.value.details]
    with pytest.raises(ValidationError):
        await bud_client.schedules.create(pipeline.id, name="none")
    with pytest.raises(NotFoundError):
        await bud_client.schedules.create("pipe_missing", name="x", cron="@daily")


async def test_one_time_schedule_from_the_sdk(bud_client: AsyncBudClient) -> None:
    pipeline = await bud_client.pipelines.create("p", LOG)
    when = datetime(2099, 1, 1, 9, 0)
    schedule = await bud_client.schedules.create(
        pipeline.id, name="once", schedule_type="one_time", run_at=when, timezone="Asia/Tokyo"
    )
    assert schedule.schedule.type == "one_time"
    assert schedule.next_run_at == datetime(2099, 1, 1, 0, 0, tzinfo=UTC)


async def test_webhook_trigger_signed_post_and_sdk_trigger(bud_client: AsyncBudClient) -> None:
    pipeline = await bud_client.pipelines.create("hooked", LOG)
    created = await bud_client.webhooks.create(pipeline.id, name="gh", params={"who": "default"})
    assert created.secret.startswith("whsec_") and "secret" not in repr(created)
    body = json.dumps({"who": "signed"}).encode()
    headers = signature_headers(created.secret, "delivery-1", body, int(time.time()))
    async with aiohttp.ClientSession() as session:  # a sender without the API key
        async with session.post(created.url, data=body, headers=headers) as response:
            assert response.status == 202
            answer = await response.json()
        async with session.post(created.url, data=body, headers=headers) as response:
            assert response.status == 200 and (await response.json())["duplicate"] is True
    done = await bud_client.executions.wait(answer["execution_id"], timeout=10)
    assert done.params == {"who": "signed"}

    result = await bud_client.webhooks.trigger(created.webhook_id, payload={"who": "sdk"})
    assert result.webhook_id == created.webhook_id and result.duplicate is False
    hook = await bud_client.webhooks.get(created.webhook_id)
    assert hook.trigger_count == 2 and hook.secret_hash
    rotated = await bud_client.webhooks.rotate_secret(created.webhook_id)
    assert rotated.secret != created.secret
    assert [item.id async for item in bud_client.webhooks.list(pipeline_id=pipeline.id)] == [hook.id]
    await bud_client.webhooks.delete(hook.id)
    with pytest.raises(NotFoundError):
        await bud_client.webhooks.get(hook.id)


async def test_event_trigger_chain_from_the_sdk(bud_client: AsyncBudClient) -> None:
    first = await bud_client.pipelines.create("first", LOG)
    second = await bud_client.pipelines.create("second", LOG)
    trigger = await bud_client.event_triggers.create(
        second.id,
        name="then",
        event_type=EventType.EXECUTION_COMPLETED,
        source_pipeline_id=first.id,
        params={"who": "chained"},
    )
    assert trigger.event_type == "execution.completed" and trigger.filter == {"pipeline_id": first.id}
    execution = await bud_client.executions.create(first.id, params={"who": "first"}, wait=True)
    assert execution.status == "completed"
    firings: list[Any] = []
    for _ in range(500):
        firings = await bud_client.event_triggers.firings(trigger.id)
        if firings:
            break
        await asyncio.sleep(0.01)
    [firing] = firings
    assert firing.status == "fired" and firing.source_execution_id == execution.id
    assert firing.execution_id is not None
    chained = await bud_client.executions.wait(firing.execution_id, timeout=10)
    assert chained.params["who"] == "chained" and chained.params["event"]["execution_id"] == execution.id
    updated = await bud_client.event_triggers.update(trigger.id, is_active=False, max_chain_depth=2)
    assert updated.is_active is False and updated.max_chain_depth == 2
    assert [t.id for t in await bud_client.event_triggers.list(pipeline_id=second.id)] == [trigger.id]
    await bud_client.event_triggers.delete(trigger.id)
    with pytest.raises(NotFoundError):
        await bud_client.event_triggers.get(trigger.id)


@pytest.mark.parametrize(
    "data",
    [
        {"id": "s", "workflow_id": "p", "name": "n", "schedule": {"type": "cron", "expression": "0 9 * * *"}},
        {"id": "s", "pipeline_id": "p", "name": "n", "cron": "0 9 * * *", "status": "ACTIVE"},
    ],
)
def test_schedule_model_reads_both_wire_shapes(data: dict[str, Any]) -> None:
    from budai_async.resources._base import parse

    schedule = parse(normalize_schedule(data), Schedule)
    assert schedule.pipeline_id == "p" and schedule.cron == "0 9 * * *"
    assert schedule.schedule.expression == "0 9 * * *" and schedule.status == "active"
