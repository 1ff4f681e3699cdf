"""Guide: Executing Pipelines and Monitoring Executions, run as written on the guide's fixtures."""

from __future__ import annotations

import re

import pytest
from guide_support import printed

from budai_async import BudClient, Execution


def test_synchronous_execution(client: BudClient, capsys: pytest.CaptureFixture[str]) -> None:
    # Execute and wait for completion
    execution = client.executions.create(pipeline_id="pipe_abc123", wait=True)
    if execution.status == "completed":
        print(f"Success! Output: {execution.outputs}")
    else:
        print(f"Failed: {execution.error}")

    [line] = printed(capsys)
    assert line.startswith("Success! Output: {'deployment_id': 'deploy_")
    assert set(execution.outputs) == {"deployment_id", "endpoint_url", "status"}
    assert execution.outputs["status"] == "success"


def test_asynchronous_execution(client: BudClient, capsys: pytest.CaptureFixture[str]) -> None:
    # Start execution without waiting
    execution = client.executions.create(pipeline_id="pipe_abc123", wait=False)
    print(f"Execution started: {execution.id}")
    # Check status later
    execution = client.executions.get(execution.id)
    print(f"Status: {execution.status}")

    started, status = printed(capsys)
    assert re.fullmatch(r"Execution started: exec_\w+", started)
    assert status in {"Status: pending", "Status: running", "Status: completed"}


def test_with_parameters(client: BudClient) -> None:
    execution = client.executions.create(
        pipeline_id="pipe_abc123",
        params={
            "cluster_id": "cluster_prod",
            "model_id": "model_xyz789",
            "replicas": 3,
            "environment": "production",
        },
    )

    sent = {
        "cluster_id": "cluster_prod",
        "model_id": "model_xyz789",
        "replicas": 3,
        "environment": "production",
    }
    assert execution.params == {**sent, "warmup_seconds": 0}  # with the pipeline's declared defaults
    ended = client.executions.wait(execution.id, timeout=60)
    deploy = ended.steps["deploy"].output
    assert (deploy["model_id"], deploy["cluster_id"], deploy["replicas"]) == (
        "model_xyz789",
        "cluster_prod",
        3,
    )


def test_execution_priority(client: BudClient) -> None:
    # High priority - runs immediately
    urgent = client.executions.create(pipeline_id="pipe_abc123", priority="high")
    # Low priority - runs when resources available
    background = client.executions.create(pipeline_id="pipe_batch_process", priority="low")

    assert (urgent.priority, background.priority) == ("high", "low")
    ended = client.executions.wait_all([urgent, background], timeout=60)
    assert [e.status for e in ended] == ["completed", "completed"]
    assert ended[1].outputs == {"processed": 100}


def test_listing_executions(client: BudClient) -> None:
    # Get all executions
    executions = client.executions.list()
    # Filter by pipeline
    pipeline_runs = client.executions.list(pipeline_id="pipe_abc123")
    # Filter by status
    failed = client.executions.list(status="failed")
    # Filter by date
    recent = client.executions.list(created_after="2024-01-01")

    everything = {"exec_abc121", "exec_abc122", "exec_abc123", "exec_batch_process"}
    assert {e.id for e in executions} == everything and len(executions) == 4
    assert {e.id for e in pipeline_runs} == everything - {"exec_batch_process"}
    assert [e.id for e in failed] == ["exec_abc122"]
    assert {e.id for e in recent} == everything


def test_polling_for_completion(
    client: BudClient, short_sleeps: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    execution = client.executions.create(pipeline_id="pipe_abc123", wait=False)
    while execution.status in ["pending", "running"]:
        time.sleep(5)
        execution = client.executions.get(execution.id)
        print(f"Status: {execution.status} ({execution.progress}%)")
    print(f"Final status: {execution.status}")

    lines = printed(capsys)
    assert lines[-1] == "Final status: completed"
    assert lines[-2] == "Status: completed (100.0%)"
    assert all(re.fullmatch(r"Status: \w+ \([\d.]+%\)", line) for line in lines[:-1])
    assert short_sleeps and set(short_sleeps) == {5}


def test_getting_execution_details(client: BudClient, capsys: pytest.CaptureFixture[str]) -> None:
    execution = client.executions.get("exec_abc123")
    print(f"Pipeline: {execution.pipeline_id}")
    print(f"Status: {execution.status}")
    print(f"Started: {execution.started_at}")
    print(f"Completed: {execution.completed_at}")
    print(f"Duration: {execution.duration_seconds}s")

    lines = printed(capsys)
    assert lines[:2] == ["Pipeline: pipe_abc123", "Status: completed"]
    assert re.fullmatch(r"Started: 20\d\d-.+", lines[2]) and re.fullmatch(r"Completed: 20\d\d-.+", lines[3])
    assert re.fullmatch(r"Duration: \d+\.\d+s", lines[4])


def test_pipeline_outputs(client: BudClient, capsys: pytest.CaptureFixture[str]) -> None:
    execution = client.executions.get("exec_abc123")
    # Access pipeline-level outputs
    print(execution.outputs)
    # Access specific output
    deployment_id = execution.outputs.get("deployment_id")

    [line] = printed(capsys)
    assert line.startswith("{'deployment_id': 'deploy_") and "'endpoint_url': 'https://" in line
    assert execution.outputs["status"] == "success"
    assert isinstance(deployment_id, str) and deployment_id.startswith("deploy_")


def test_step_outputs(client: BudClient, capsys: pytest.CaptureFixture[str]) -> None:
    execution: Execution = client.executions.get("exec_abc123")
    # Access individual step outputs
    for step_id, step in execution.steps.items():
        print(f"{step_id}:")
        print(f" Status: {step.status}")
        print(f" Output: {step.output}")
        print(f" Duration: {step.duration_seconds}s")

    lines = printed(capsys)
    assert lines[0::4] == ["start:", "warmup:", "health_check:", "deploy:", "report:"]
    assert set(lines[1::4]) == {" Status: completed"}
    assert lines[2] == " Output: {'logged': True, 'message': 'Processing started', 'level': 'info'}"
    assert all(re.fullmatch(r" Duration: \d+(\.\d+)?(e-\d+)?s", line) for line in lines[3::4])
