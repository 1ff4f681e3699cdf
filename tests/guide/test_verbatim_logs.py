"""Guide: Execution Logs and Managing Executions (cancel, retry), run as written on the fixtures."""

from __future__ import annotations

import re

import pytest
from guide_support import printed

from budai_async import BudClient, LogEntry

alerts: list[str] = []


def alert_team(message: str) -> None:
    """The guide's hook for error lines."""
    alerts.append(message)


def test_retrieving_logs(client: BudClient, capsys: pytest.CaptureFixture[str]) -> None:
    # Get all logs
    logs = client.executions.logs(execution_id="exec_abc123")
    for log in logs:
        print(f"[{log.timestamp}] [{log.level}] {log.message}")

    lines = printed(capsys)
    assert len(lines) == len(logs) > 0
    assert all(re.fullmatch(r"\[20\d\d-.+\] \[(debug|info|warning|error)\] .+", line) for line in lines)
    assert any(line.endswith("[info] Processing started") for line in lines)
    assert lines[-1].endswith("execution completed")


def test_filtered_logs(client: BudClient) -> None:
    # Only errors
    error_logs = client.executions.logs(execution_id="exec_abc123", level="error")
    # Specific step
    step_logs = client.executions.logs(execution_id="exec_abc123", step_id="deploy")
    # Time range
    recent_logs = client.executions.logs(execution_id="exec_abc123", since="5m")  # Last 5 minutes

    every_line = client.executions.logs("exec_abc123")
    assert error_logs == [log for log in every_line if log.level == "error"] == []  # a clean run
    assert step_logs and {log.step_id for log in step_logs} == {"deploy"}
    assert any(re.search(r"deployment deploy_\w+ serving at https://", log.message) for log in step_logs)
    assert [log.seq for log in recent_logs] == [log.seq for log in every_line]


def test_filtered_logs_of_the_failed_fixture_run(client: BudClient) -> None:
    """The level filter on a run that has error lines (``exec_abc122``, its model does not exist)."""
    error_logs = client.executions.logs(execution_id="exec_abc122", level="error")

    assert error_logs and {log.level for log in error_logs} == {"error"}
    assert any("model 'model_retired' does not exist" in log.message for log in error_logs)
    warnings_and_up = client.executions.logs(execution_id="exec_abc122", level="warning")
    assert {log.seq for log in error_logs} <= {log.seq for log in warnings_and_up}


def stream_logs(client: BudClient) -> list[str]:
    """The guide's "Streaming Logs" block (``exec_abc123``), returning what it printed."""
    alerts.clear()
    # Stream logs in real-time
    logs = client.executions.logs(execution_id="exec_abc123", follow=True)
    for log in logs:
        print(f"{log.message}")
        if log.level == "error":
            # Handle errors immediately
            alert_team(log.message)
    return alerts


def test_streaming_logs_of_an_ended_execution_replay_and_end(
    client: BudClient, capsys: pytest.CaptureFixture[str]
) -> None:
    stream_logs(client)

    lines = printed(capsys)
    assert lines == [log.message for log in client.executions.logs("exec_abc123")]
    assert lines[-1] == "execution completed"


@pytest.mark.guide_hold(0.5)
def test_streaming_logs_follow_a_running_execution_until_it_ends(
    client: BudClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert client.executions.get("exec_abc123").status in ("pending", "running")
    stream_logs(client)

    lines = printed(capsys)
    assert client.executions.get("exec_abc123").status == "completed"  # the loop ended with it
    assert lines[-1] == "execution completed" and "Processing started" in lines


def test_streaming_logs_alert_on_error_lines(client: BudClient) -> None:
    alerts.clear()
    logs = client.executions.logs(execution_id="exec_abc122", follow=True)  # the failed fixture run
    for log in logs:
        if log.level == "error":
            alert_team(log.message)

    errors = [log.message for log in client.executions.logs("exec_abc122", level="error")]
    assert alerts == errors and any("model_retired" in message for message in alerts)


@pytest.mark.guide_hold(600)
def test_cancelling_executions(client: BudClient, capsys: pytest.CaptureFixture[str]) -> None:
    # Cancel running execution
    client.executions.cancel(execution_id="exec_abc123")
    # Verify cancellation
    execution = client.executions.get("exec_abc123")
    print(execution.status)  # "cancelled"

    assert printed(capsys) == ["cancelled"]


def test_retrying_failed_executions(client: BudClient) -> None:
    # Retry with same parameters
    new_execution = client.executions.retry(execution_id="exec_abc123")
    # Retry with different parameters
    other_execution = client.executions.retry(
        execution_id="exec_abc123",
        params={
            "cluster_id": "cluster_backup"  # Try different cluster
        },
    )

    original = client.executions.get("exec_abc123")
    assert new_execution.retry_of == other_execution.retry_of == "exec_abc123"
    assert new_execution.params == original.params
    assert other_execution.params == {**original.params, "cluster_id": "cluster_backup"}
    same, moved = client.executions.wait_all([new_execution, other_execution], timeout=60)
    assert (same.status, moved.status) == ("completed", "completed")
    assert moved.steps["deploy"].output["cluster_id"] == "cluster_backup"
    retried_failure = client.executions.retry("exec_abc122", params={"model_id": "model_xyz"}, wait=True)
    assert retried_failure.status == "completed"


def test_log_entries_are_the_sdk_model(client: BudClient) -> None:
    assert all(isinstance(entry, LogEntry) for entry in client.executions.logs("exec_abc123"))
