"""The guide's "Executing Pipelines", "Monitoring", "Outputs", "Managing Executions", callbacks, tags,
ephemeral runs, templates, batch and metrics sections through the SDK, on the real server."""

from __future__ import annotations

import asyncio
import builtins
import copy
from datetime import UTC, date, datetime, timedelta

import pytest
from sdk_support import DEPLOY_STEPS, PipelineFactory, delay_step, fail_step, log_step

import budai_async
from budai_async import (
    AsyncBudClient,
    ConflictError,
    Execution,
    ExecutionStatus,
    NotFoundError,
    Priority,
    StepStatus,
    UnprocessableEntityError,
    ValidationError,
)

PARAM_STEPS = [
    {
        "id": "record",
        "action": "set_output",
        "params": {
            "values": {
                "cluster_id": "{{ params.cluster_id }}",
                "replicas": "{{ params.replicas }}",
                "environment": "{{ params.environment }}",
            }
        },
    }
]

TEMPLATE = {
    "steps": [
        {
            "id": "add_model",
            "action": "model_add",
            "params": {"model_uri": "{{ params.model_uri }}", "model_source": "{{ params.model_source }}"},
        },
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {
                "model_id": "{{ steps.add_model.output.model_id }}",
                "cluster_id": "{{ params.cluster_id }}",
            },
            "depends_on": ["add_model"],
        },
    ]
}


async def test_synchronous_execution(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(*copy.deepcopy(DEPLOY_STEPS))
    execution = await bud_client.executions.create(pipeline_id=pipeline.id, wait=True)
    assert execution.status == "completed" and execution.status is ExecutionStatus.COMPLETED
    assert execution.outputs["endpoint_url"].startswith("https://")
    assert execution.outputs["deployment_id"] == execution.steps["deploy"].output["deployment_id"]
    assert execution.error is None
    assert execution.pipeline_id == pipeline.id


async def test_asynchronous_execution_then_get(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    pipeline = await make_pipeline(delay_step("slow", 0.2))
    execution = await bud_client.executions.create(pipeline_id=pipeline.id, wait=False)
    assert execution.id.startswith("exec_")
    assert execution.status in ("pending", "running")
    later = await bud_client.executions.get(execution.id)
    assert later.id == execution.id and later.status in ("pending", "running", "completed")
    done = await bud_client.executions.wait(execution.id, timeout=30)
    assert done.status == "completed" and done.outputs == {"waited_seconds": pytest.approx(0.2, abs=0.1)}


async def test_parameters(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(*copy.deepcopy(PARAM_STEPS))
    params = {
        "cluster_id": "cluster_prod",
        "model_id": "model_xyz789",
        "replicas": 3,
        "environment": "production",
    }
    execution = await bud_client.executions.create(pipeline_id=pipeline.id, params=params, wait=True)
    assert execution.params == params
    assert execution.outputs == {"cluster_id": "cluster_prod", "replicas": 3, "environment": "production"}


async def test_priority(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(log_step("a"))
    urgent = await bud_client.executions.create(pipeline_id=pipeline.id, priority="high")
    background = await bud_client.executions.create(pipeline_id=pipeline.id, priority=Priority.LOW)
    normal = await bud_client.executions.create(pipeline_id=pipeline.id)
    assert (urgent.priority, background.priority, normal.priority) == ("high", "low", "normal")
    with pytest.raises(UnprocessableEntityError) as caught:
        await bud_client.executions.create(pipeline_id=pipeline.id, priority="urgent")
    assert caught.value.details[0]["path"] == "priority"


async def test_list_with_filters(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    good = await make_pipeline(log_step("a"))
    bad = await make_pipeline(fail_step("a"))
    ok_runs = [await bud_client.executions.create(good.id, wait=True, tags=["ok"]) for _ in range(3)]
    failed_run = await bud_client.executions.create(bad.id, wait=True, tags=["ok", "bad"])

    everything = await bud_client.executions.list()
    assert everything.total == 4 and len(everything) == 4
    assert [e.id for e in await bud_client.executions.list(pipeline_id=good.id, sort_order="asc")] == [
        e.id for e in ok_runs
    ]
    failed = await bud_client.executions.list(status="failed")
    assert [e.id for e in failed] == [failed_run.id]
    either = await bud_client.executions.list(status=["failed", "completed"])
    assert either.total == 4
    assert (await bud_client.executions.list(tags=["ok", "bad"])).total == 1
    assert (await bud_client.executions.list(tags=["ok"])).total == 4

    today = datetime.now(UTC).date()
    for after in ("2024-01-01", date(2024, 1, 1), datetime(2024, 1, 1), today - timedelta(days=1)):
        assert (await bud_client.executions.list(created_after=after)).total == 4
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert (await bud_client.executions.list(created_after=tomorrow)).total == 0
    assert (await bud_client.executions.list(created_before="2024-01-01")).total == 0

    newest_first = await bud_client.executions.list(sort_by="created_at", sort_order="desc")
    assert [e.id for e in newest_first] == [failed_run.id, *reversed([e.id for e in ok_runs])]

    walked = [e.id async for e in bud_client.executions.list(limit=1, sort_order="asc")]
    assert walked == [*(e.id for e in ok_runs), failed_run.id]  # cursor paging, one per page

    with pytest.raises(UnprocessableEntityError):
        await bud_client.executions.list(status="exploded")
    with pytest.raises(ValidationError):
        bud_client.executions.list(tags="ok")


async def test_polling_for_completion(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(delay_step("one", 0.05), delay_step("two", 0.05, depends_on=["one"]))
    execution = await bud_client.executions.create(pipeline_id=pipeline.id, wait=False)
    seen: list[float] = []
    while execution.status in ["pending", "running"]:
        await asyncio.sleep(0.01)
        execution = await bud_client.executions.get(execution.id)
        seen.append(execution.progress)
    assert execution.status == "completed" and execution.progress == 100.0
    assert seen == sorted(seen)


async def test_execution_details_and_step_outputs(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    pipeline = await make_pipeline(*copy.deepcopy(DEPLOY_STEPS))
    created = await bud_client.executions.create(pipeline.id, wait=True)
    execution = await bud_client.executions.get(created.id)
    assert execution.pipeline_id == pipeline.id
    assert execution.started_at is not None and execution.completed_at is not None
    assert execution.started_at <= execution.completed_at
    assert execution.duration_seconds is not None and execution.duration_seconds >= 0
    assert execution.outputs.get("deployment_id", "").startswith("deploy")
    assert set(execution.steps) == {"add_model", "deploy"}
    for step_id, step in execution.steps.items():
        assert step.status is StepStatus.COMPLETED, step_id
        assert isinstance(step.output, dict)
        assert step.duration_seconds is not None and step.duration_seconds >= 0
        assert step.attempts == 1
    assert execution.steps["add_model"].output["model_id"] == execution.steps["deploy"].output["model_id"]


async def test_progress_view(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(log_step("a"), log_step("b", depends_on=["a"]))
    execution = await bud_client.executions.create(pipeline.id, wait=True)
    progress = await bud_client.executions.progress(execution.id)
    assert progress.id == execution.id
    assert (progress.completed_steps, progress.total_steps) == (2, 2)
    assert {step_id: step.status for step_id, step in progress.steps.items()} == {
        "a": "completed",
        "b": "completed",
    }


async def test_cancel_running_execution(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(delay_step("long", 30))
    execution = await bud_client.executions.create(pipeline.id)
    cancelled = await bud_client.executions.cancel(execution_id=execution.id)
    assert cancelled.id == execution.id
    execution = await bud_client.executions.get(execution.id)
    assert execution.status == "cancelled"
    with pytest.raises(ConflictError) as caught:
        await bud_client.executions.cancel(execution.id)
    assert caught.value.code == "execution_finished"


async def test_retry_same_and_new_params(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(
        {"id": "check", "action": "log", "params": {"message": "checking {{ params.cluster_id }}"}},
    )
    first = await bud_client.executions.create(pipeline.id, params={"cluster_id": "cluster_prod"}, wait=True)
    again = await bud_client.executions.retry(execution_id=first.id)
    assert again.id != first.id and again.retry_of == first.id and again.params == first.params
    moved = await bud_client.executions.retry(execution_id=first.id, params={"cluster_id": "cluster_backup"})
    assert moved.retry_of == first.id and moved.params == {"cluster_id": "cluster_backup"}
    done = await bud_client.executions.wait(moved.id, timeout=30)
    assert done.status == "completed"


async def test_retry_of_a_running_execution_is_a_conflict(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    pipeline = await make_pipeline(delay_step("long", 30))
    running = await bud_client.executions.create(pipeline.id)
    with pytest.raises(ConflictError):
        await bud_client.executions.retry(running.id)
    await bud_client.executions.cancel(running.id)


async def test_callbacks_and_tags(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(log_step("a"))
    callbacks = {
        "on_complete": "http://127.0.0.1:9/webhook/complete",  # nothing listens: no outside traffic
        "on_failure": "http://127.0.0.1:9/webhook/failure",
    }
    with_callbacks = await bud_client.executions.create(pipeline_id=pipeline.id, callbacks=callbacks)
    assert with_callbacks.callbacks == callbacks
    tagged = await bud_client.executions.create(
        pipeline_id=pipeline.id, tags=["production", "customer-123", "v1.2.0"]
    )
    assert tagged.tags == ["production", "customer-123", "v1.2.0"]
    customer_runs = await bud_client.executions.list(tags=["customer-123"])
    assert [e.id for e in customer_runs] == [tagged.id]
    with pytest.raises(UnprocessableEntityError) as caught:
        await bud_client.executions.create(pipeline.id, callbacks={"on_complete": "not a url"})
    assert caught.value.details[0]["path"] == "callbacks.on_complete"


async def test_ephemeral_and_templates(bud_client: AsyncBudClient) -> None:
    one_time = await bud_client.executions.run_ephemeral(
        pipeline_definition={
            "steps": [
                {"id": "add", "action": "model_add", "params": {"model_uri": "org/model"}},
                {
                    "id": "quick_deploy",
                    "action": "deployment_create",
                    "params": {"model_id": "{{ steps.add.output.model_id }}", "cluster_id": "cluster_prod"},
                },
            ]
        },
        wait=True,
    )
    assert one_time.pipeline_id is None and one_time.status == "completed"
    assert (await bud_client.pipelines.list()).total == 0  # nothing was stored

    runs = [
        await bud_client.executions.run_ephemeral(
            pipeline_definition=TEMPLATE,
            params={"model_uri": uri, "model_source": "hugging_face", "cluster_id": cluster},
            wait=True,
        )
        for uri, cluster in (
            ("meta-llama/Llama-3.2-1B", "cluster_prod"),
            ("mistralai/Mistral-7B", "cluster_dev"),
        )
    ]
    assert [run.status for run in runs] == ["completed", "completed"]
    assert [run.outputs["cluster_id"] for run in runs] == ["cluster_prod", "cluster_dev"]
    assert runs[0].steps["add_model"].output["model_name"] == "Llama-3.2-1B"


async def test_batch_pattern(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(*copy.deepcopy(PARAM_STEPS))
    param_sets = [{"cluster_id": f"cluster_{i}", "replicas": i, "environment": "test"} for i in (1, 2, 3)]
    executions = await asyncio.gather(
        *(bud_client.executions.create(pipeline_id=pipeline.id, params=p, wait=False) for p in param_sets)
    )
    while any(e.status in ["pending", "running"] for e in executions):
        await asyncio.sleep(0.01)
        executions = builtins.list(
            await asyncio.gather(*(bud_client.executions.get(e.id) for e in executions))
        )
    assert [e.status for e in executions] == ["completed"] * 3
    assert [e.outputs["cluster_id"] for e in executions] == ["cluster_1", "cluster_2", "cluster_3"]


async def test_metrics_and_success_rate(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(log_step("a"), {**fail_step("b"), "condition": "params.fail"})
    outcomes = [True, False, True, False, False]
    for fail in outcomes:
        await bud_client.executions.create(pipeline.id, params={"fail": fail}, wait=True)
    history = await bud_client.executions.list(
        pipeline_id=pipeline.id, limit=10, sort_by="created_at", sort_order="desc"
    )
    total = len(history)
    successful = len([e for e in history if e.status == "completed"])
    assert (total, successful) == (5, 3)
    assert (successful / total) * 100 == 60.0
    execution = await bud_client.executions.get(history[0].id)
    assert execution.status == "completed"  # the newest run did not fail
    assert execution.duration_seconds is not None and execution.duration_seconds >= 0
    assert (execution.completed_steps, execution.total_steps) == (1, 2)  # b was skipped, not completed
    assert execution.cpu_seconds is not None and execution.cpu_seconds >= 0
    assert execution.peak_memory_mb is not None and execution.peak_memory_mb > 0


async def test_error_handling_timeout_leaves_execution_running(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    pipeline = await make_pipeline(delay_step("long", 30))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError) as caught:  # the builtin name, as in the guide
        await bud_client.executions.create(pipeline_id=pipeline.id, wait=True, timeout=0.3)
    assert 0.25 <= loop.time() - started < 5
    error = caught.value
    assert isinstance(error, budai_async.TimeoutError) and isinstance(error, budai_async.BudError)
    assert error.execution_id and error.last_status in ("pending", "running")
    execution = await bud_client.executions.get(error.execution_id)
    assert execution.status == "running"
    with pytest.raises(budai_async.TimeoutError):
        await bud_client.executions.wait(execution.id, timeout=0.1)
    await bud_client.executions.cancel(execution.id)


async def test_error_handling_not_found(bud_client: AsyncBudClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await bud_client.executions.create(pipeline_id="pipe_missing", wait=True, timeout=60)
    assert caught.value.status_code == 404 and "pipe_missing" in str(caught.value)
    with pytest.raises(NotFoundError):
        await bud_client.executions.get("exec_missing")
    with pytest.raises(NotFoundError):
        await bud_client.executions.wait("exec_missing", timeout=1)


async def test_timeout_needs_wait_and_timeout_seconds_is_server_side(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    pipeline = await make_pipeline(delay_step("long", 30))
    with pytest.raises(ValidationError, match="timeout_seconds"):
        await bud_client.executions.create(pipeline.id, timeout=5)
    execution = await bud_client.executions.create(pipeline.id, timeout_seconds=0.2, wait=True, timeout=30)
    assert execution.status == "timeout"
    assert execution.timeout_seconds == 0.2


async def test_wait_uses_long_poll(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(delay_step("d", 0.3))
    execution = await bud_client.executions.create(pipeline.id)
    waited = await bud_client.executions.wait(execution.id, timeout=10)
    assert isinstance(waited, Execution) and waited.status == "completed"
