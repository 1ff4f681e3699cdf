"""`client.executions.delete` / `delete_many` on the real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sdk_support import PipelineFactory, delay_step, log_step

from budai_async import AsyncBudClient
from budai_async.errors import ConflictError, NotFoundError, UnprocessableEntityError, ValidationError


async def test_delete_one_then_it_is_gone(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(log_step("a"))
    done = await bud_client.executions.create(pipeline.id, wait=True)
    assert await bud_client.executions.logs(done.id)
    await bud_client.executions.delete(done.id)
    with pytest.raises(NotFoundError):
        await bud_client.executions.get(done.id)
    with pytest.raises(NotFoundError):
        await bud_client.executions.logs(done.id)
    with pytest.raises(NotFoundError):
        await bud_client.executions.delete(done.id)


async def test_delete_while_running_is_a_conflict(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    pipeline = await make_pipeline(delay_step("long", 30))
    running = await bud_client.executions.create(pipeline.id)
    with pytest.raises(ConflictError) as caught:
        await bud_client.executions.delete(running.id)
    assert caught.value.code == "execution_not_finished"
    await bud_client.executions.cancel(running.id)
    await bud_client.executions.delete(running.id)


async def test_delete_many_counts_by_filter(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    keep = await make_pipeline(log_step("a"), name="keep")
    drop = await make_pipeline(log_step("a"), name="drop")
    for _ in range(3):
        await bud_client.executions.create(drop.id, wait=True, tags=["nightly"])
    kept = await bud_client.executions.create(keep.id, wait=True, tags=["nightly"])
    assert await bud_client.executions.delete_many(pipeline_id=drop.id, dry_run=True) == 3
    assert await bud_client.executions.delete_many(pipeline_id=drop.id, status=["failed"]) == 0
    assert (
        await bud_client.executions.delete_many(pipeline_id=drop.id, status="completed", tags=["nightly"])
        == 3
    )
    assert await bud_client.executions.delete_many(created_before=datetime.now(UTC) - timedelta(days=1)) == 0
    assert [e.id for e in await bud_client.executions.list(tags=["nightly"])] == [kept.id]


async def test_delete_many_needs_a_filter_and_ended_statuses(bud_client: AsyncBudClient) -> None:
    with pytest.raises(ValidationError, match="at least one filter"):
        await bud_client.executions.delete_many()
    with pytest.raises(UnprocessableEntityError) as caught:
        await bud_client.executions.delete_many(status="running")
    assert "status[0]" in str(caught.value) and "only ended executions can be deleted" in str(caught.value)
