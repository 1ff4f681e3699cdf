"""The guide's "Execution Logs" section through `client.executions.logs` (the hook into budai_async.logs)."""

from __future__ import annotations

from sdk_support import PipelineFactory, log_step

from budai_async import AsyncBudClient, LogEntry, LogLevel

STEPS = [
    log_step("start", "Processing started"),
    {"id": "deploy", "action": "log", "params": {"message": "cluster unreachable", "level": "error"}},
]


async def test_retrieve_and_filter_logs(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(*STEPS)
    execution = await bud_client.executions.create(pipeline.id, wait=True)

    logs = await bud_client.executions.logs(execution_id=execution.id)
    assert logs and all(isinstance(line, LogEntry) for line in logs)
    assert [line.seq for line in logs] == list(range(1, len(logs) + 1))
    messages = [line.message for line in logs]
    assert "Processing started" in messages and "cluster unreachable" in messages

    error_logs = await bud_client.executions.logs(execution_id=execution.id, level="error")
    assert error_logs and {line.level for line in error_logs} == {LogLevel.ERROR}
    step_logs = await bud_client.executions.logs(execution_id=execution.id, step_id="deploy")
    assert step_logs and {line.step_id for line in step_logs} == {"deploy"}
    recent_logs = await bud_client.executions.logs(execution_id=execution.id, since="5m")
    assert [line.seq for line in recent_logs] == [line.seq for line in logs]


async def test_stream_logs_and_react_to_an_error(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    pipeline = await make_pipeline(
        {"id": "wait", "action": "delay", "params": {"seconds": 0.1}},
        *[{**s, "depends_on": ["wait"]} for s in STEPS],
    )
    execution = await bud_client.executions.create(pipeline.id)
    seen: list[LogEntry] = []
    async with bud_client.executions.logs(execution_id=execution.id, follow=True) as lines:
        async for line in lines:
            seen.append(line)
            if line.level == "error":  # the guide's "handle errors immediately"
                break
    assert [line.seq for line in seen] == list(range(1, len(seen) + 1))
    assert seen[-1].message == "cluster unreachable" and seen[-1].step_id == "deploy"
    assert (await bud_client.executions.wait(execution.id, timeout=10)).status == "completed"
