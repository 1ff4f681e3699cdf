"""Every call of the official SDK's pipelines, executions and actions resources, sync and async,
against the real server, with assertions on what comes back."""

from __future__ import annotations

import asyncio

import pytest
from interop_support import DEFINITION, FAILING_DAG, OFFICIAL_DAG, SLOW_DAG, STEP_IDS, Official

bud = pytest.importorskip("bud")
from bud.exceptions import BudError, ExecutionError, NotFoundError  # noqa: E402

WHO = {"who": "ada"}


async def test_pipelines_create_list_get_update_validate_delete(official: Official) -> None:
    created = await official("pipelines.create", OFFICIAL_DAG, name="interop", tags={"team": "ml"})
    assert created.id.startswith("pipe_")
    assert (created.name, created.tags, created.is_active, created.step_count) == (
        "interop",
        {"team": "ml"},
        True,
        3,
    )
    assert [step["id"] for step in created.dag["steps"]] == STEP_IDS

    listed = await official("pipelines.list", page=1, per_page=50)
    assert created.id in [pipeline.id for pipeline in listed]
    fetched = await official("pipelines.get", created.id)
    assert (fetched.id, fetched.name, fetched.tags) == (created.id, "interop", {"team": "ml"})

    updated = await official(
        "pipelines.update", created.id, name="renamed", is_active=False, tags={"team": "ops", "tier": "1"}
    )
    assert (updated.name, updated.is_active, updated.tags) == ("renamed", False, {"team": "ops", "tier": "1"})
    assert int(updated.version) == 2
    assert (await official("pipelines.get", created.id)).is_active is False

    valid = await official("pipelines.validate", OFFICIAL_DAG)
    assert valid.valid and valid.errors == []
    broken = {"nodes": [{"id": "x", "type": "action", "action_id": "no_such_action"}]}
    invalid = await official("pipelines.validate", broken)
    assert not invalid.valid
    assert any("no_such_action" in error.message for error in invalid.errors)

    await official("pipelines.delete", created.id)
    with pytest.raises(NotFoundError):
        await official("pipelines.get", created.id)


async def test_execution_create_without_and_with_wait(official: Official) -> None:
    pipeline = await official("pipelines.create", OFFICIAL_DAG, name="interop")
    queued = await official(
        "executions.create",
        pipeline.id,
        params=WHO,
        context={"tenant": "t1"},
        callback_topics=["progress-topic"],
        initiator="svc",
        user_id="u1",
    )
    assert queued.effective_id.startswith("exec_")
    assert (queued.status, queued.pipeline_id, queued.context, queued.initiator) == (
        "pending",
        pipeline.id,
        {"tenant": "t1"},
        "svc",
    )
    assert [step.id for step in queued.steps] == STEP_IDS
    assert {step.status for step in queued.steps} == {"pending"}

    done = await official("executions.create", pipeline.id, params=WHO, wait=True, poll_interval=0.02)
    assert done.status == "completed"
    assert done.outputs == {"loud": "ADA"}
    assert [(step.id, step.status) for step in done.steps] == [(sid, "completed") for sid in STEP_IDS]
    assert done.steps[1].output == {"result": "ADA"}
    assert done.progress is not None
    assert (done.progress.total_steps, done.progress.completed_steps, done.progress.percent_complete) == (
        3,
        3,
        100.0,
    )
    assert done.progress_percentage == "100.00"


async def test_run_and_run_ephemeral(official: Official) -> None:
    pipeline = await official("pipelines.create", OFFICIAL_DAG, name="interop")
    ran = await official("executions.run", pipeline.id, params=WHO, initiator="svc")
    assert ran.status == "completed" and ran.outputs == {"loud": "ADA"}
    assert ran.effective_pipeline_id == pipeline.id

    ephemeral = await official(
        "executions.run_ephemeral", DEFINITION, params={"who": "bo"}, wait=True, poll_interval=0.02
    )
    assert (ephemeral.status, ephemeral.pipeline_id, ephemeral.outputs) == ("completed", None, {"loud": "BO"})
    assert [step.id for step in ephemeral.steps] == STEP_IDS


async def test_list_executions_with_filters(official: Official) -> None:
    first = await official("pipelines.create", OFFICIAL_DAG, name="one")
    second = await official("pipelines.create", FAILING_DAG, name="two")
    done = [
        await official("executions.create", first.id, params=WHO, wait=True, poll_interval=0.02)
        for _ in range(3)
    ]
    with pytest.raises(ExecutionError) as failed:
        await official("executions.create", second.id, wait=True, poll_interval=0.02)
    assert failed.value.status == "failed"

    mine = await official("executions.list", pipeline_id=first.id)
    assert sorted(e.effective_id for e in mine) == sorted(e.effective_id for e in done)
    page = await official("executions.list", pipeline_id=first.id, page=2, per_page=2)
    assert len(page) == 1
    failures = await official("executions.list", status="failed")
    assert [(e.pipeline_id, e.status) for e in failures] == [(second.id, "failed")]
    assert failures[0].error and "no luck" in failures[0].error
    assert await official("executions.list", pipeline_id=first.id, status="COMPLETED") != []


async def test_get_progress_steps_and_events(official: Official) -> None:
    pipeline = await official("pipelines.create", OFFICIAL_DAG, name="interop")
    done = await official("executions.create", pipeline.id, params=WHO, wait=True, poll_interval=0.02)
    execution_id = done.effective_id

    fetched = await official("executions.get", execution_id)
    assert (fetched.id, fetched.status, fetched.outputs) == (execution_id, "completed", {"loud": "ADA"})
    progress = await official("executions.get_progress", execution_id)
    assert (progress.total_steps, progress.completed_steps, progress.failed_steps) == (3, 3, 0)
    assert (progress.running_steps, progress.pending_steps, progress.percent_complete) == (0, 0, 100.0)

    steps = await official("executions.get_steps", execution_id)
    assert [(step.id, step.node_id, step.status) for step in steps] == [(s, s, "completed") for s in STEP_IDS]
    assert steps[2].output == {"loud": "ADA"}
    assert all(step.started_at is not None and step.completed_at is not None for step in steps)

    events = await official("executions.get_events", execution_id)
    kinds = [(event.type, event.step_id) for event in events]
    assert kinds[0] == ("execution.created", None) and kinds[-1] == ("execution.completed", None)
    assert [k for k in kinds if k[0] == "step.completed"] == [("step.completed", s) for s in STEP_IDS]
    assert len({event.id for event in events}) == len(events)
    assert [event.timestamp for event in events] == sorted(event.timestamp for event in events)
    only = await official("executions.get_events", execution_id, step_id="shout")
    assert [(event.type, event.step_id) for event in only] == [
        ("step.started", "shout"),
        ("step.completed", "shout"),
    ]


async def test_cancel_and_retry(official: Official) -> None:
    pipeline = await official("pipelines.create", SLOW_DAG, name="slow")
    running = await official("executions.create", pipeline.id, context={"k": "v"})
    cancelled = await official("executions.cancel", running.effective_id)
    assert (cancelled.id, cancelled.status) == (running.effective_id, "cancelled")
    assert cancelled.steps[0].id == "nap"
    with pytest.raises(BudError):  # 409: it has already ended
        await official("executions.cancel", running.effective_id)

    retried = await official("executions.retry", running.effective_id)
    assert retried.effective_id != running.effective_id
    assert (retried.status, retried.pipeline_id, retried.context) == ("pending", pipeline.id, {"k": "v"})
    again = await official("executions.cancel", retried.effective_id)
    assert again.status == "cancelled"


async def test_actions_list_and_get(official: Official) -> None:
    actions = await official("actions.list")
    types = [action.type for action in actions]
    assert types == sorted(types) and {"log", "delay", "model_add", "cluster_health"} <= set(types)
    assert all(action.name for action in actions)
    log = await official("actions.get", "log")
    assert (log.type, log.name) == ("log", "Log")
    params = {param.name: param for param in log.params}
    assert params["message"].required and params["message"].type == "string"
    assert [option["value"] for option in params["level"].options or []] == [
        "debug",
        "info",
        "warning",
        "error",
    ]
    alias = await official("actions.get", "wait")
    assert alias.type == "delay"
    with pytest.raises(NotFoundError):
        await official("actions.get", "no_such_action")


async def test_stream_events_until_the_end(official: Official) -> None:
    if official.is_async:
        assert not hasattr(official.client.executions, "stream_events")  # the official async SDK has none
        return
    pipeline = await official("pipelines.create", OFFICIAL_DAG, name="interop")
    queued = await official("executions.create", pipeline.id, params=WHO)

    def collect() -> list[tuple[str, str | None]]:
        stream = official.client.executions.stream_events(queued.effective_id, poll_interval=0.02)
        return [(event.type, event.step_id) for event in stream]

    seen = await asyncio.to_thread(collect)
    assert seen[0] == ("execution.created", None) and seen[-1] == ("execution.completed", None)
    assert [s for kind, s in seen if kind == "step.completed"] == STEP_IDS
    assert len(seen) == len(set(seen))
