"""Engine semantics through the real HTTP app on a temporary SQLite file (guide pipelines, gates,
branches, retries, timeouts, cancellation, validation and the sandbox).

The guide's template pipeline run twice is in test_api_executions.py; the runner-level twin of every
case here is in test_runner.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from api_support import Client, create_pipeline, execute, json_of, run, step, steps_of, wait_done
from guide_pipelines import DEPLOY_MODEL, resilient

from budai_server.config import InventorySettings


def states(execution: dict[str, Any]) -> dict[str, tuple[str, str | None, int]]:
    return {sid: (s["status"], s["skip_reason"], s["attempts"]) for sid, s in steps_of(execution).items()}


async def logs_of(client: Client, execution_id: str, **params: str) -> list[dict[str, Any]]:
    body = await json_of(
        client, "GET", f"/budpipeline/executions/{execution_id}/logs", params=params, expect=200
    )
    items: list[dict[str, Any]] = body["items"]
    return items


async def new_model(client: Client) -> str:
    added = await run(client, {"steps": [step("add", "model_add", model_uri="org/model-1b")]})
    model_id: str = steps_of(added)["add"]["output"]["model_id"]
    return model_id


async def test_deploy_model_passes_the_model_id_and_reports_real_measurements(api: Client) -> None:
    pipeline = await create_pipeline(api, DEPLOY_MODEL, name="Deploy Model")
    created = await execute(api, pipeline["id"])
    execution = await wait_done(api, created["id"])
    assert execution["status"] == "completed", execution["error"]
    model_id = steps_of(execution)["add_model"]["output"]["model_id"]
    assert steps_of(execution)["deploy"]["output"]["model_id"] == model_id
    assert execution["outputs"]["deployment_id"].startswith("deploy_")
    assert execution["outputs"]["endpoint_url"].startswith("https://")
    assert (execution["progress_percentage"], execution["completed_steps"], execution["total_steps"]) == (
        "100.00",
        2,
        2,
    )
    assert execution["cpu_seconds"] > 0
    assert execution["peak_memory_mb"] > 1
    assert all(s["duration_seconds"] is not None for s in steps_of(execution).values())


async def test_resilient_deployment_healthy_then_failing(api: Client) -> None:
    pipeline = await create_pipeline(api, resilient(), name="Resilient Deployment")
    model_id = await new_model(api)
    healthy = await wait_done(
        api,
        (await execute(api, pipeline["id"], params={"cluster_id": "cluster_prod", "model_id": model_id}))[
            "id"
        ],
    )
    assert healthy["status"] == "completed"
    assert states(healthy) == {
        "health_check": ("completed", None, 1),
        "deploy": ("completed", None, 1),
        "notify_failure": ("skipped", "condition_false", 0),
    }
    failing = await wait_done(
        api,
        (await execute(api, pipeline["id"], params={"cluster_id": "cluster_prod", "model_id": "model_gone"}))[
            "id"
        ],
    )
    assert failing["status"] == "failed"
    assert states(failing) == {
        "health_check": ("completed", None, 1),
        "deploy": ("failed", None, 1),
        "notify_failure": ("completed", None, 1),
    }
    assert failing["error"] == "step 'deploy' failed: model 'model_gone' does not exist"
    lines = [line["message"] for line in await logs_of(api, failing["id"], step_id="notify_failure")]
    assert "[slack] Deployment failed" in lines


async def test_degraded_cluster_and_flaky_platform(make_bud_server: Any, aiohttp_client: Any) -> None:
    server: TestServer = await make_bud_server(
        inventory=InventorySettings(unhealthy_clusters=("cluster_dev",), failure_rate=1.0, seed=3)
    )
    client: TestClient[Any, Any] = await aiohttp_client(server)
    flaky = await run(client, resilient(), params={"cluster_id": "cluster_dev", "model_id": "m"})
    assert states(flaky)["health_check"] == ("failed", None, 3)
    assert states(flaky)["deploy"] == ("skipped", "upstream_failed", 0)
    lines = [line["message"] for line in await logs_of(client, flaky["id"], step_id="health_check")]
    assert [line for line in lines if "retrying in" in line] == [
        "attempt 1/3 failed: simulated platform fault during cluster_health; retrying in 0.01s",
        "attempt 2/3 failed: simulated platform fault during cluster_health; retrying in 0.02s",
    ]


async def test_branching_with_a_join(api: Client) -> None:
    definition = {
        "steps": [
            {
                "id": "check_status",
                "action": "condition",
                "params": {"condition": "value > 100", "on_true": "path_a", "on_false": "path_b"},
            },
            step("path_a", "log", message="big"),
            step("path_b", "log", message="small"),
            {**step("join", "log", message="joined"), "depends_on": ["path_a", "path_b"]},
        ]
    }
    big = await run(api, definition, params={"value": 150})
    assert states(big) == {
        "check_status": ("completed", None, 1),
        "path_a": ("completed", None, 1),
        "path_b": ("skipped", "branch_not_taken", 0),
        "join": ("completed", None, 1),
    }
    assert steps_of(big)["check_status"]["output"]["branch"] == "on_true"
    small = await run(api, definition, params={"value": 5})
    assert states(small)["path_a"] == ("skipped", "branch_not_taken", 0)
    assert states(small)["path_b"] == ("completed", None, 1)


async def test_gates_and_skip_reasons(api: Client) -> None:
    definition = {
        "steps": [
            step("boom", "fail", message="no"),
            {**step("after_boom", "log", message="x"), "depends_on": ["boom"]},
            {**step("off", "log", message="x"), "condition": "{{ params.enabled }}"},
            {**step("after_off", "log", message="x"), "depends_on": ["off"]},
            {**step("handler", "log", message="x"), "condition": "steps.boom.status == 'failed'"},
        ]
    }
    execution = await run(api, definition, params={"enabled": False})
    assert states(execution) == {
        "boom": ("failed", None, 1),
        "after_boom": ("skipped", "upstream_failed", 0),
        "off": ("skipped", "condition_false", 0),
        "after_off": ("skipped", "upstream_skipped", 0),
        "handler": ("completed", None, 1),
    }
    assert execution["status"] == "failed"


async def test_step_timeout_and_execution_timeout(api: Client) -> None:
    step_timeout = await run(
        api,
        {
            "steps": [
                {
                    **step("slow", "delay", seconds=5),
                    "timeout_seconds": 0.05,
                    "retry": {"max_attempts": 2, "initial_delay_seconds": 0},
                }
            ]
        },
    )
    assert states(step_timeout) == {"slow": ("timeout", None, 2)}
    assert step_timeout["status"] == "failed"
    whole = await run(
        api,
        {
            "steps": [
                step("slow", "delay", seconds=5),
                {**step("next", "log", message="x"), "depends_on": ["slow"]},
            ]
        },
        timeout_seconds=0.2,
    )
    assert whole["status"] == "timeout"
    assert states(whole)["slow"][0] == "timeout"
    assert states(whole)["next"] == ("skipped", "execution_timeout", 0)


async def test_cancel_stops_a_running_step(api: Client) -> None:
    pipeline = await create_pipeline(api, {"steps": [step("slow", "delay", seconds=30)]})
    created = await execute(api, pipeline["id"])
    for _ in range(200):
        current = await json_of(api, "GET", f"/budpipeline/executions/{created['id']}", expect=200)
        if steps_of(current)["slow"]["status"] == "running":
            break
        await asyncio.sleep(0.01)
    cancelled = await json_of(api, "POST", f"/budpipeline/executions/{created['id']}/cancel", expect=200)
    final = await wait_done(api, cancelled["id"])
    assert final["status"] == "cancelled"
    assert steps_of(final)["slow"]["status"] == "cancelled"
    assert final["duration_seconds"] < 5


async def test_outputs_templates_through_the_api(api: Client) -> None:
    definition = {
        "steps": [step("a", "transform", input="{{ params.names }}", operation="uppercase")],
        "outputs": {"shouted": "{{ steps.a.output.result }}", "count": 2},
    }
    execution = await run(api, definition, params={"names": ["x", "y"]})
    assert execution["outputs"] == {"shouted": ["X", "Y"], "count": 2}


async def test_bad_definitions_and_sandbox_escapes_are_422_with_paths(api: Client) -> None:
    cases = [
        (
            {"steps": [step("a", "log", message="{{ ''.__class__.__mro__ }}")]},
            "definition.steps[0].params.message",
            "template",
        ),
        (
            {"steps": [step("a", "log", message="{{ cycler.__init__.__globals__ }}")]},
            "definition.steps[0].params.message",
            "template",
        ),
        (
            {"steps": [{**step("a", "log", message="x"), "condition": "lipsum(5)"}]},
            "definition.steps[0].condition",
            "template",
        ),
        (
            {"steps": [step("a", "log", message="{{ '{0.__class__}'.format(1) }}")]},
            "definition.steps[0].params.message",
            "template",
        ),
        (
            {"steps": [step("a", "deployment_create", model_id="m")]},
            "definition.steps[0].params.cluster_id",
            "required",
        ),
        (
            {"steps": [{**step("a", "log", message="x"), "depends_on": ["a"]}]},
            "definition.steps[0].depends_on[0]",
            "cycle",
        ),
    ]
    for definition, path, code in cases:
        body = await json_of(
            api, "POST", "/budpipeline", json={"name": "bad", "definition": definition}, expect=422
        )
        details = [(d["path"], d["code"]) for d in body["error"]["details"]]
        assert (path, code) in details, body
        validated = await json_of(
            api, "POST", "/budpipeline/validate", json={"definition": definition}, expect=200
        )
        assert validated["valid"] is False


async def test_runtime_sandbox_refusals_fail_the_step_without_running_it(api: Client) -> None:
    # The attribute name and the range size only exist at run time, so validation cannot see them.
    definition = {
        "steps": [
            step("a", "log", message="{{ params.obj[params.attr] }}"),
            {**step("b", "log", message="x"), "condition": "range(10 ** params.power) | list"},
        ]
    }
    execution = await run(api, definition, params={"obj": {}, "attr": "__class__", "power": 9})
    assert states(execution) == {"a": ("failed", None, 0), "b": ("failed", None, 0)}
    assert (
        steps_of(execution)["a"]["error"]
        == "params.message: unsafe template: access to item '__class__' is not allowed"
    )
    assert steps_of(execution)["b"]["error"] == (
        "condition error: unsafe template: range of 1000000000 items is over the limit 1000"
    )
