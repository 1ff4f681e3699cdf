"""The fan-out functions of `budai_async.batch` are reachable as methods of `client.executions`."""

from __future__ import annotations

from sdk_support import PipelineFactory, log_step

from budai_async import AsyncBudClient


async def test_batch_functions_are_bound_to_the_resource(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    pipeline = await make_pipeline(
        {"id": "echo", "action": "set_output", "params": {"values": {"n": "{{ params.n }}"}}}, log_step("a")
    )
    result = await bud_client.executions.create_many(pipeline.id, [{"n": n} for n in range(3)], wait=True)
    assert result.counts.created == 3 and result.counts.completed == 3
    ids = [item.execution.id for item in result if item.execution is not None]
    ended = await bud_client.executions.wait_all(ids, timeout=30)
    assert [e.id for e in ended] == ids and {e.status for e in ended} == {"completed"}
    seen = []
    async with bud_client.executions.as_completed(ids, timeout=30) as stream:
        async for execution in stream:
            seen.append(execution.id)
    assert sorted(seen) == sorted(ids)


async def test_action_aliases_resolve(bud_client: AsyncBudClient) -> None:
    assert (await bud_client.actions.get("wait")).type == "delay"
    assert "wait" in (await bud_client.actions.get("delay")).aliases
