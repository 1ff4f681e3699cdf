"""Execution routes against the real app: execute, run, get/long-poll, progress, cancel, retry."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from api_support import (
    LOG_DEFINITION,
    Client,
    create_pipeline,
    delay_definition,
    execute,
    json_of,
    run,
    step,
    steps_of,
    wait_done,
)

TEMPLATE = {
    "steps": [
        step(
            "add_model",
            "model_add",
            model_uri="{{ params.model_uri }}",
            model_source="{{ params.model_source }}",
        ),
        {
            **step(
                "deploy",
                "deployment_create",
                model_id="{{ steps.add_model.output.model_id }}",
                cluster_id="{{ params.cluster_id }}",
            ),
            "depends_on": ["add_model"],
        },
    ]
}


async def test_execute_returns_a_pending_execution_that_then_completes(api: Client) -> None:
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    created = await execute(
        api,
        pipeline["id"],
        params={"who": "bud"},
        priority="high",
        tags=["prod", "customer-123"],
        callbacks={"on_complete": "https://example.test/done", "on_failure": "https://example.test/fail"},
        timeout_seconds=30,
    )
    assert created["id"].startswith("exec_")
    assert (created["status"], created["pipeline_id"], created["priority"]) == (
        "pending",
        pipeline["id"],
        "high",
    )
    assert steps_of(created) == {
        "hello": steps_of(created)["hello"],
        "shout": steps_of(created)["shout"],
    }
    assert {s["status"] for s in steps_of(created).values()} == {"pending"}
    assert (created["total_steps"], created["progress_percentage"]) == (2, "0.00")
    assert created["progress"]["pending_steps"] == 2
    done = await wait_done(api, created["id"])
    assert done["status"] == "completed"
    assert done["outputs"] == {"shouted": "BUD"}
    assert done["params"] == {"who": "bud"}
    assert done["tags"] == ["prod", "customer-123"]
    assert done["callbacks"] == {
        "on_complete": "https://example.test/done",
        "on_failure": "https://example.test/fail",
    }
    assert done["timeout_seconds"] == 30
    assert (done["progress_percentage"], done["completed_steps"], done["total_steps"]) == ("100.00", 2, 2)
    assert done["progress"]["percent_complete"] == 100.0
    assert steps_of(done)["shout"]["output"] == {"result": "BUD"}
    assert steps_of(done)["shout"]["status"] == "completed"
    assert done["started_at"] and done["completed_at"] and done["duration_seconds"] >= 0
    assert done["cpu_seconds"] is not None and done["peak_memory_mb"] > 0


async def test_the_template_pipeline_deploys_different_models_per_params(api: Client) -> None:
    first = await run(
        api,
        TEMPLATE,
        params={
            "model_uri": "meta-llama/Llama-3.2-1B",
            "model_source": "hugging_face",
            "cluster_id": "cluster_prod",
        },
    )
    second = await run(
        api,
        TEMPLATE,
        params={
            "model_uri": "mistralai/Mistral-7B",
            "model_source": "hugging_face",
            "cluster_id": "cluster_dev",
        },
    )
    assert (first["status"], second["status"]) == ("completed", "completed")
    assert first["pipeline_id"] is None
    first_model = steps_of(first)["add_model"]["output"]["model_id"]
    second_model = steps_of(second)["add_model"]["output"]["model_id"]
    assert first_model != second_model
    assert (
        steps_of(first)["deploy"]["output"]["deployment_id"]
        != steps_of(second)["deploy"]["output"]["deployment_id"]
    )


async def test_run_accepts_the_definition_aliases(api: Client) -> None:
    for key in ("pipeline_definition", "definition", "dag"):
        created = await json_of(
            api, "POST", "/budpipeline/run", json={key: LOG_DEFINITION, "params": {"who": key}}, expect=201
        )
        done = await wait_done(api, created["id"])
        assert done["outputs"] == {"shouted": key.upper()}


async def test_failed_steps_fail_the_execution(api: Client) -> None:
    done = await run(api, {"steps": [step("boom", "fail", message="no luck")]})
    assert done["status"] == "failed"
    assert "no luck" in done["error"]
    assert steps_of(done)["boom"]["status"] == "failed"


async def test_long_poll_answers_when_the_execution_ends(api: Client) -> None:
    created = await json_of(
        api, "POST", "/budpipeline/run", json={"pipeline_definition": delay_definition(0.2)}, expect=201
    )
    started = time.monotonic()
    done = await json_of(
        api, "GET", f"/budpipeline/executions/{created['id']}", params={"wait": "5"}, expect=200
    )
    elapsed = time.monotonic() - started
    assert done["status"] == "completed"
    assert elapsed < 3  # woken by the end, not by the 5 s timeout


async def test_long_poll_times_out_with_the_current_state(api: Client) -> None:
    created = await json_of(
        api, "POST", "/budpipeline/run", json={"pipeline_definition": delay_definition(5)}, expect=201
    )
    started = time.monotonic()
    current = await json_of(
        api, "GET", f"/budpipeline/executions/{created['id']}", params={"wait": "0.3"}, expect=200
    )
    assert 0.25 < time.monotonic() - started < 3
    assert current["status"] in ("pending", "running")
    await json_of(api, "POST", f"/budpipeline/executions/{created['id']}/cancel", expect=200)


async def test_progress_view(api: Client) -> None:
    definition = {
        "steps": [
            {**step("a", "log", message="a"), "name": "First"},
            {**step("b", "delay", seconds=5), "depends_on": ["a"]},
        ]
    }
    created = await json_of(
        api, "POST", "/budpipeline/run", json={"pipeline_definition": definition}, expect=201
    )
    view: dict[str, Any] = {}
    for _ in range(200):
        view = await json_of(api, "GET", f"/budpipeline/executions/{created['id']}/progress", expect=200)
        if view["aggregated_progress"]["current_step"] == "b":
            break
        await asyncio.sleep(0.01)
    assert view["execution"]["id"] == created["id"]
    assert [(s["step_id"], s["step_name"], s["sequence_number"]) for s in view["steps"]] == [
        ("a", "First", 1),
        ("b", "b", 2),
    ]
    assert view["steps"][0]["status"] == "completed"
    aggregated = view["aggregated_progress"]
    assert (aggregated["current_step"], aggregated["completed_steps"], aggregated["total_steps"]) == (
        "b",
        1,
        2,
    )
    assert aggregated["overall_progress"] == 50.0
    assert aggregated["eta_seconds"] is not None
    await json_of(api, "POST", f"/budpipeline/executions/{created['id']}/cancel", expect=200)
    view = await json_of(api, "GET", f"/budpipeline/executions/{created['id']}/progress", expect=200)
    assert view["aggregated_progress"]["eta_seconds"] == 0
    await json_of(api, "GET", "/budpipeline/executions/exec_missing/progress", expect=404)


async def test_cancel_stops_a_running_execution_and_then_conflicts(api: Client) -> None:
    created = await json_of(
        api,
        "POST",
        "/budpipeline/run",
        json={"pipeline_definition": delay_definition(30, steps=2)},
        expect=201,
    )
    for _ in range(200):
        current = await json_of(api, "GET", f"/budpipeline/executions/{created['id']}", expect=200)
        if steps_of(current)["wait_0"]["status"] == "running":
            break
        await asyncio.sleep(0.01)
    started = time.monotonic()
    cancelled = await json_of(api, "POST", f"/budpipeline/executions/{created['id']}/cancel", expect=200)
    assert time.monotonic() - started < 5
    assert cancelled["status"] == "cancelled"
    assert steps_of(cancelled)["wait_0"]["status"] == "cancelled"
    assert steps_of(cancelled)["wait_1"]["status"] in ("skipped", "cancelled")
    stored = await json_of(api, "GET", f"/budpipeline/executions/{created['id']}", expect=200)
    assert stored["status"] == "cancelled"
    error = await json_of(api, "POST", f"/budpipeline/executions/{created['id']}/cancel", expect=409)
    assert error["error"]["details"]["status"] == "cancelled"
    await json_of(api, "POST", "/budpipeline/executions/exec_missing/cancel", expect=404)


async def test_execution_timeout_ends_it_as_timeout(api: Client) -> None:
    done = await run(api, delay_definition(10), timeout_seconds=0.2)
    assert done["status"] == "timeout"
    assert steps_of(done)["wait_0"]["status"] in ("timeout", "cancelled")
    assert done["duration_seconds"] < 5


async def test_retry_with_same_and_new_params(api: Client) -> None:
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    original = await wait_done(
        api, (await execute(api, pipeline["id"], params={"who": "a", "extra": 1}, tags=["t"]))["id"]
    )
    same = await json_of(api, "POST", f"/budpipeline/executions/{original['id']}/retry", expect=201)
    assert (same["retry_of"], same["pipeline_id"], same["params"], same["tags"]) == (
        original["id"],
        pipeline["id"],
        {"who": "a", "extra": 1},
        ["t"],
    )
    assert (await wait_done(api, same["id"]))["outputs"] == {"shouted": "A"}
    new = await json_of(
        api,
        "POST",
        f"/budpipeline/executions/{original['id']}/retry",
        json={"params": {"who": "b"}, "priority": "low"},
        expect=201,
    )
    # params sent on retry are merged over the original's: `who` changes, `extra` is kept
    assert (new["params"], new["priority"], new["retry_of"]) == (
        {"who": "b", "extra": 1},
        "low",
        original["id"],
    )
    assert (await wait_done(api, new["id"]))["outputs"] == {"shouted": "B"}


async def test_retry_runs_the_snapshot_after_the_pipeline_changed_or_vanished(api: Client) -> None:
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    original = await wait_done(api, (await execute(api, pipeline["id"], params={"who": "x"}))["id"])
    await json_of(
        api,
        "PATCH",
        f"/budpipeline/{pipeline['id']}",
        json={"definition": {"steps": [step("s", "log", message="m")]}},
        expect=200,
    )
    await api.delete(f"/budpipeline/{pipeline['id']}")
    retried = await json_of(api, "POST", f"/budpipeline/executions/{original['id']}/retry", expect=201)
    done = await wait_done(api, retried["id"])
    assert (done["status"], done["outputs"], done["pipeline_id"]) == (
        "completed",
        {"shouted": "X"},
        pipeline["id"],
    )


async def test_retry_of_an_unfinished_execution_conflicts(api: Client) -> None:
    created = await json_of(
        api, "POST", "/budpipeline/run", json={"pipeline_definition": delay_definition(10)}, expect=201
    )
    error = await json_of(api, "POST", f"/budpipeline/executions/{created['id']}/retry", expect=409)
    assert error["error"]["code"] == "execution_not_finished"
    await json_of(api, "POST", f"/budpipeline/executions/{created['id']}/cancel", expect=200)
    await json_of(api, "POST", "/budpipeline/executions/exec_missing/retry", expect=404)


async def test_declared_parameters_are_checked_and_defaulted(api: Client) -> None:
    definition = {
        "parameters": {
            "who": {"type": "string", "required": True},
            "times": {"type": "integer", "default": 2},
        },
        "steps": [step("hello", "log", message="{{ params.who }} x{{ params.times }}")],
    }
    pipeline = await create_pipeline(api, definition)
    error = await json_of(api, "POST", f"/budpipeline/{pipeline['id']}/execute", json={}, expect=422)
    assert [d["path"] for d in error["error"]["details"]] == ["params.who"]
    error = await json_of(
        api, "POST", f"/budpipeline/{pipeline['id']}/execute", json={"params": {"who": 3}}, expect=422
    )
    assert [d["path"] for d in error["error"]["details"]] == ["params.who"]
    created = await execute(api, pipeline["id"], params={"who": "bud"})
    assert created["params"] == {"who": "bud", "times": 2}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"params": []}, "params"),
        ({"params": "x"}, "params"),
        ({"priority": "urgent"}, "priority"),
        ({"priority": 1}, "priority"),
        ({"tags": "prod"}, "tags"),
        ({"tags": [""]}, "tags[0]"),
        ({"tags": ["a,b"]}, "tags[0]"),
        ({"callbacks": "http://x"}, "callbacks"),
        ({"callbacks": {"on_complete": "ftp://x"}}, "callbacks.on_complete"),
        ({"callbacks": {"on_done": "http://x"}}, "callbacks.on_done"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": -1}, "timeout_seconds"),
        ({"timeout_seconds": "10"}, "timeout_seconds"),
        ({"timeout_seconds": True}, "timeout_seconds"),
        ({"paramz": {}}, "paramz"),
    ],
)
async def test_bad_execute_bodies_name_the_field(api: Client, body: dict[str, Any], field: str) -> None:
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    error = await json_of(api, "POST", f"/budpipeline/{pipeline['id']}/execute", json=body, expect=422)
    assert field in [detail["path"] for detail in error["error"]["details"]]
    run_error = await json_of(
        api, "POST", "/budpipeline/run", json={"pipeline_definition": LOG_DEFINITION, **body}, expect=422
    )
    assert field in [detail["path"] for detail in run_error["error"]["details"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "pipeline_definition"),
        ({"pipeline_definition": None}, "pipeline_definition"),
        ({"pipeline_definition": {"steps": [step("a", "nope")]}}, "pipeline_definition.steps[0].action"),
        (
            {"definition": {"steps": [step("a", "delay", seconds="soon")]}},
            "definition.steps[0].params.seconds",
        ),
    ],
)
async def test_bad_run_bodies_name_the_field(api: Client, body: dict[str, Any], field: str) -> None:
    error = await json_of(api, "POST", "/budpipeline/run", json=body, expect=422)
    assert field in [detail["path"] for detail in error["error"]["details"]]


@pytest.mark.parametrize(
    ("wait", "ok"), [("-1", False), ("soon", False), ("nan", False), ("0", True), ("0.5", True)]
)
async def test_wait_is_validated(api: Client, wait: str, ok: bool) -> None:
    done = await run(api, LOG_DEFINITION, params={"who": "w"})
    response = await api.get(f"/budpipeline/executions/{done['id']}", params={"wait": wait})
    assert response.status == (200 if ok else 422)
    if not ok:
        body = await response.json()
        assert body["error"]["details"][0]["path"] == "wait"
