"""Guide: callbacks, tags, ephemeral pipelines, templates, batches, metrics and error handling."""

from __future__ import annotations

import re

import pytest
from guide_support import Webhooks, printed

from budai_async import BudClient


def test_execution_callbacks(client: BudClient, webhooks: Webhooks) -> None:
    execution = client.executions.create(
        pipeline_id="pipe_abc123",
        callbacks={
            "on_complete": f"{webhooks.url}/webhook/complete",  # guide: https://api.example.com/...
            "on_failure": f"{webhooks.url}/webhook/failure",
        },
    )
    # Webhooks receive POST requests with execution data:
    # {"execution_id": "exec_abc123", "status": "completed", "outputs": {...}}

    kind, event = webhooks.next_event()
    assert (kind, event.execution_id, event.status) == ("complete", execution.id, "completed")
    assert event.outputs["status"] == "success" and event.outputs["deployment_id"].startswith("deploy_")


def test_execution_callbacks_on_failure(client: BudClient, webhooks: Webhooks) -> None:
    execution = client.executions.create(
        pipeline_id="pipe_abc123",
        params={"model_id": "model_missing"},
        callbacks={
            "on_complete": f"{webhooks.url}/webhook/complete",
            "on_failure": f"{webhooks.url}/webhook/failure",
        },
    )

    kind, event = webhooks.next_event()
    assert (kind, event.execution_id, event.status) == ("failure", execution.id, "failed")
    assert event.error is not None and "model_missing" in event.error


def test_tags(client: BudClient) -> None:
    execution = client.executions.create(
        pipeline_id="pipe_abc123", tags=["production", "customer-123", "v1.2.0"]
    )
    # Search by tags
    customer_runs = client.executions.list(tags=["customer-123"])

    assert execution.tags == ["production", "customer-123", "v1.2.0"]
    assert {run.id for run in customer_runs} == {execution.id, "exec_abc123"}  # the fixture run has it too


def test_ephemeral_pipelines(client: BudClient) -> None:
    # One-time execution
    execution = client.executions.run_ephemeral(
        pipeline_definition={
            "steps": [
                {
                    "id": "quick_deploy",
                    "action": "deployment_create",
                    "params": {"model_id": "model_xyz", "cluster_id": "cluster_prod"},
                }
            ]
        }
    )

    assert execution.pipeline_id is None
    ended = client.executions.wait(execution.id, timeout=60)
    assert ended.status == "completed"
    assert ended.outputs["model_id"] == "model_xyz" and ended.outputs["cluster_id"] == "cluster_prod"
    assert {p.id for p in client.pipelines.list()} == {"pipe_abc123", "pipe_batch_process"}  # not stored


def test_pipeline_templates(client: BudClient) -> None:
    # Create template
    template = {
        "steps": [
            {
                "id": "add_model",
                "action": "model_add",
                "params": {
                    "model_uri": " {{ params.model_uri }} ",
                    "model_source": " {{ params.model_source }} ",
                },
            },
            {
                "id": "deploy",
                "action": "deployment_create",
                "params": {
                    "model_id": " {{ steps.add_model.output.model_id }} ",
                    "cluster_id": " {{ params.cluster_id }} ",
                },
                "depends_on": ["add_model"],
            },
        ]
    }
    # Reuse template with different parameters
    execution1 = client.executions.run_ephemeral(
        pipeline_definition=template,
        params={
            "model_uri": "meta-llama/Llama-3.2-1B",
            "model_source": "hugging_face",
            "cluster_id": "cluster_prod",
        },
    )
    execution2 = client.executions.run_ephemeral(
        pipeline_definition=template,
        params={
            "model_uri": "mistralai/Mistral-7B",
            "model_source": "hugging_face",
            "cluster_id": "cluster_dev",
        },
    )

    first, second = client.executions.wait_all([execution1, execution2], timeout=60)
    assert (first.status, second.status) == ("completed", "completed")
    assert first.steps["deploy"].output["cluster_id"] == "cluster_prod"
    assert second.steps["deploy"].output["cluster_id"] == "cluster_dev"


def test_batch_executions(
    client: BudClient, short_sleeps: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline_id = "pipe_abc123"
    param_sets = [
        {"cluster_id": "cluster_1", "model_id": "model_1"},
        {"cluster_id": "cluster_2", "model_id": "model_2"},
        {"cluster_id": "cluster_3", "model_id": "model_3"},
    ]
    executions = []
    for params in param_sets:
        execution = client.executions.create(pipeline_id=pipeline_id, params=params, wait=False)
        executions.append(execution)
    # Wait for all to complete
    import time

    while any(e.status in ["pending", "running"] for e in executions):
        time.sleep(5)
        executions = [client.executions.get(e.id) for e in executions]
    # Check results
    for execution in executions:
        print(f"{execution.id}: {execution.status}")

    lines = printed(capsys)
    assert lines == [f"{e.id}: completed" for e in executions]
    assert [e.steps["deploy"].output["cluster_id"] for e in executions] == [
        "cluster_1",
        "cluster_2",
        "cluster_3",
    ]
    assert set(short_sleeps) == {5}


def test_batch_executions_with_the_fan_out_calls(client: BudClient) -> None:
    """The same batch through `create_many` and `as_completed`, the SDK's fan-out calls."""
    param_sets = [{"cluster_id": f"cluster_{n}", "model_id": f"model_{n}"} for n in (1, 2, 3)]
    result = client.executions.create_many("pipe_abc123", param_sets, wait=True, wait_timeout=60)
    assert result.counts.completed == 3
    ids = [item.execution.id for item in result if item.execution is not None]
    assert sorted(e.id for e in client.executions.as_completed(ids, timeout=60)) == sorted(ids)


def test_execution_metrics(client: BudClient, capsys: pytest.CaptureFixture[str]) -> None:
    execution = client.executions.get("exec_abc123")
    # Performance metrics
    print(f"Duration: {execution.duration_seconds}s")
    print(f"Steps completed: {execution.completed_steps}/{execution.total_steps}")
    # Resource usage
    print(f"CPU time: {execution.cpu_seconds}s")
    print(f"Memory peak: {execution.peak_memory_mb}MB")
    # Calculate success rate
    history = client.executions.list(
        pipeline_id="pipe_abc123", limit=10, sort_by="created_at", sort_order="desc"
    )
    total = len(history)
    successful = len([e for e in history if e.status == "completed"])
    success_rate = (successful / total) * 100
    print(f"Success rate: {success_rate:.1f}%")

    lines = printed(capsys)
    assert re.fullmatch(r"Duration: \d+\.\d+s", lines[0])
    assert lines[1] == "Steps completed: 5/5"
    assert re.fullmatch(r"CPU time: [\d.e-]+s", lines[2]) and re.fullmatch(r"Memory peak: [\d.]+MB", lines[3])
    # the fixture history of pipe_abc123: exec_abc121 and exec_abc123 completed, exec_abc122 failed
    assert lines[4] == "Success rate: 66.7%"
    assert [e.id for e in history] == ["exec_abc123", "exec_abc122", "exec_abc121"]


def test_error_handling(client: BudClient, capsys: pytest.CaptureFixture[str]) -> None:
    from budai_async import NotFoundError, TimeoutError

    try:
        execution = client.executions.create(pipeline_id="pipe_abc123", wait=True, timeout=60)
    except TimeoutError:
        print("Execution timed out")
        # Check status separately
        execution = client.executions.get(execution.id)
    except NotFoundError:
        print("Pipeline not found")

    assert printed(capsys) == []
    assert execution.status == "completed"


def test_error_handling_when_the_pipeline_is_missing(
    client: BudClient, capsys: pytest.CaptureFixture[str]
) -> None:
    from budai_async import NotFoundError, TimeoutError

    client.pipelines.delete("pipe_abc123")
    try:
        execution = client.executions.create(pipeline_id="pipe_abc123", wait=True, timeout=60)
    except TimeoutError:
        print("Execution timed out")
        execution = client.executions.get(execution.id)
    except NotFoundError:
        print("Pipeline not found")

    assert printed(capsys) == ["Pipeline not found"]


def test_error_handling_when_the_wait_times_out(
    client: BudClient, capsys: pytest.CaptureFixture[str]
) -> None:
    from budai_async import NotFoundError, TimeoutError

    slow = {"warmup_seconds": 600}  # added to the guide's call: a run that outlasts `timeout`
    try:
        execution = client.executions.create(pipeline_id="pipe_abc123", wait=True, timeout=0.5, params=slow)
    except TimeoutError as timed_out:
        print("Execution timed out")
        # Check status separately: the guide's `execution.id` is unbound here (the assignment
        # raised), so the id comes from the error
        execution = client.executions.get(timed_out.execution_id)
    except NotFoundError:
        print("Pipeline not found")

    assert printed(capsys) == ["Execution timed out"]
    assert execution.status in ("pending", "running")
    client.executions.cancel(execution.id)


def test_best_practice_clean_up_old_executions(client: BudClient) -> None:
    """ "Clean up: Delete old executions to save storage" (a bullet of the guide, no code block)."""
    from budai_async import ConflictError, NotFoundError

    assert client.executions.delete_many(status="failed", dry_run=True) == 1
    client.executions.delete("exec_abc122")
    with pytest.raises(NotFoundError):
        client.executions.get("exec_abc122")
    assert client.executions.delete_many(pipeline_id="pipe_abc123", created_before="2100-01-01") == 2
    running = client.executions.create("pipe_abc123", params={"warmup_seconds": 600})
    with pytest.raises(ConflictError):
        client.executions.delete(running.id)
    client.executions.cancel(running.id)
