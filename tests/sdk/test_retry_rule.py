"""`executions.retry(params=...)` through the SDK: merged over the original, None removes a key."""

from __future__ import annotations

from sdk_support import PipelineFactory, log_step

from budai_async import AsyncBudClient


async def test_retry_merges_and_none_removes(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    pipeline = await make_pipeline(log_step("a", message="{{ params.cluster_id }}"))
    first = await bud_client.executions.create(
        pipeline.id, params={"cluster_id": "cluster_prod", "replicas": 3, "dry_run": True}, wait=True
    )
    moved = await bud_client.executions.retry(
        first.id, params={"cluster_id": "cluster_backup", "dry_run": None}, wait=True, timeout=30
    )
    assert moved.retry_of == first.id
    assert moved.params == {"cluster_id": "cluster_backup", "replicas": 3}
    assert moved.steps["a"].output["message"] == "cluster_backup"
    same = await bud_client.executions.retry(first.id)
    assert same.params == first.params
