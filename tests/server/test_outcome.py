"""How executions end and resume: pure functions, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from budai_async.models import Execution, ExecutionStatus, StepRun, StepStatus
from budai_server.engine.types import RunResult, StepState
from budai_server.outcome import SERVER_RESTARTED, ended, from_run, remaining_seconds, resumable

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(seconds=10)


def running(**fields: object) -> Execution:
    steps = {
        "done": StepRun(
            status=StepStatus.COMPLETED, output={"x": 1}, attempts=1, started_at=T0, completed_at=T0
        ),
        "busy": StepRun(status=StepStatus.RUNNING, attempts=1, started_at=T0 + timedelta(seconds=4)),
        "later": StepRun(),
    }
    base: dict[str, object] = {
        "id": "e",
        "status": ExecutionStatus.RUNNING,
        "steps": steps,
        "total_steps": 3,
        "started_at": T0,
    }
    base.update(fields)
    return Execution(**base)  # type: ignore[arg-type]


def result(status: str, **steps: StepState) -> RunResult:
    return RunResult(
        status=status, outputs={"o": 1}, error=None, steps=steps, cpu_seconds=0.5, peak_memory_mb=40.0
    )


@pytest.mark.parametrize(
    ("run", "interrupt", "crash", "status"),
    [
        (result("completed"), None, None, "completed"),
        (result("failed"), None, None, "failed"),
        (result("timeout"), None, None, "timeout"),
        (result("completed"), "cancel", None, "completed"),  # finished just before the cancel landed
        (result("cancelled"), "cancel", None, "cancelled"),
        (result("failed"), "cancel", None, "cancelled"),
        (result("cancelled"), "timeout", None, "timeout"),
        (result("weird"), None, None, "failed"),
        (None, "cancel", None, "cancelled"),
        (None, "timeout", None, "timeout"),
        (None, None, "engine exploded", "failed"),
        (result("completed"), None, "engine exploded", "failed"),
    ],
)
def test_final_status(run: RunResult | None, interrupt: str | None, crash: str | None, status: str) -> None:
    final = from_run(running(timeout_seconds=5.0), run, interrupt, crash, NOW)
    assert final.status == status
    assert final.completed_at == NOW
    assert final.duration_seconds == 10.0
    assert final.is_terminal
    assert all(step.status not in ("running", "pending", "retrying") for step in final.steps.values())
    if crash:
        assert final.error == crash
    if run is not None and crash is None:
        assert (final.outputs, final.cpu_seconds, final.peak_memory_mb) == ({"o": 1}, 0.5, 40.0)


def test_steps_stopped_from_outside_are_cancelled_or_skipped() -> None:
    final = from_run(running(timeout_seconds=2.0), None, "timeout", None, NOW)
    assert final.error == "execution exceeded its timeout of 2 s"
    assert final.steps["done"] == running().steps["done"]
    busy = final.steps["busy"]
    assert (busy.status, busy.error, busy.duration_seconds) == (StepStatus.CANCELLED, final.error, 6.0)
    later = final.steps["later"]
    assert (later.status, later.skip_reason) == (StepStatus.SKIPPED, "execution_timeout")
    assert (final.progress, final.completed_steps) == (100.0, 1)


def test_the_runner_step_states_win_over_reported_ones() -> None:
    run = result("completed", busy=StepState(status="completed", output={"y": 2}, attempts=1))
    final = from_run(running(), run, None, None, NOW)
    assert final.steps["busy"].output == {"y": 2}
    assert final.steps["later"].status == StepStatus.SKIPPED  # never reported: the run ended without it


def test_ended_before_start_has_no_duration() -> None:
    queued = Execution(id="q", steps={"a": StepRun()}, total_steps=1)
    final = ended(queued, ExecutionStatus.CANCELLED, "cancelled", NOW)
    assert (final.status, final.duration_seconds, final.started_at) == (ExecutionStatus.CANCELLED, None, None)
    assert final.steps["a"].skip_reason == "execution_cancelled"


def test_abandoned_at_restart() -> None:
    final = ended(
        running(),
        ExecutionStatus.FAILED,
        "restarted",
        NOW,
        step_status=StepStatus.FAILED,
        skip_reason=SERVER_RESTARTED,
    )
    assert (final.steps["busy"].status, final.steps["later"].skip_reason) == (
        StepStatus.FAILED,
        SERVER_RESTARTED,
    )


def test_resumable_keeps_finished_steps_only() -> None:
    resumed, prior = resumable(running())
    assert list(prior) == ["done"]
    assert prior["done"].output == {"x": 1}
    assert resumed.steps["busy"] == StepRun()
    assert resumed.started_at == T0
    assert (resumed.progress, resumed.completed_steps) == (round(100 / 3, 2), 1)


@pytest.mark.parametrize(
    ("timeout", "started", "left"),
    [(None, T0, None), (30.0, T0, 20.0), (5.0, T0, -5.0), (5.0, None, 5.0)],
)
def test_remaining_seconds(timeout: float | None, started: datetime | None, left: float | None) -> None:
    execution = Execution(id="e", timeout_seconds=timeout, started_at=started)
    assert remaining_seconds(execution, NOW) == left


def test_steps_a_refused_run_never_reported_are_skipped_as_execution_failed() -> None:
    refused = RunResult(
        status="failed", outputs={}, error="invalid definition", steps={}, cpu_seconds=0, peak_memory_mb=1
    )
    final = from_run(Execution(id="e", steps={"a": StepRun()}, total_steps=1), refused, None, None, NOW)
    assert (final.status, final.error) == (ExecutionStatus.FAILED, "invalid definition")
    assert (final.steps["a"].status, final.steps["a"].skip_reason) == (StepStatus.SKIPPED, "execution_failed")
