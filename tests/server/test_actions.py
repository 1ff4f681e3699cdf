"""Built-in actions, the action registry and the simulated inventory, run through the engine runner."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from budai_async.pipeline.action_specs import BUILTIN_SPECS
from budai_server.actions import ActionContext, ActionError, ActionSettings
from budai_server.actions.builtins import builtin_registry
from budai_server.actions.core import transform_value
from budai_server.config import InventorySettings
from budai_server.engine.runner import ExecutionRunner
from budai_server.engine.types import RunContext, RunResult, StepState
from budai_server.outbound import OutboundPolicy
from budai_server.store.inventory import Inventory, InventoryError, MemoryInventoryStore


class ListLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str | None, str]] = []

    def emit(self, execution_id: str, level: str, message: str, step_id: str | None = None) -> None:
        self.lines.append((level, step_id, message))


async def run_steps(
    runner: ExecutionRunner, steps: list[dict[str, Any]], log: ListLog | None = None, **params: Any
) -> RunResult:
    async def report(step_id: str, state: StepState) -> None:
        return None

    ctx = RunContext(
        execution_id="exec_a",
        definition={"steps": steps},
        params=params,
        report_step=report,
        log=log or ListLog(),
    )
    return await runner.run(ctx)


def make_runner(
    http: aiohttp.ClientSession | None = None,
    settings: ActionSettings | None = None,
    inventory: InventorySettings | None = None,
) -> ExecutionRunner:
    return ExecutionRunner(
        builtin_registry(),
        Inventory(MemoryInventoryStore(), inventory or InventorySettings()),
        http,
        settings=settings or ActionSettings(outbound=LOOPBACK_ALLOWED),
    )


# ------------------------------------------------------------------ catalogue and registry


def test_every_builtin_has_a_handler_and_the_catalogue_lists_them() -> None:
    registry = builtin_registry()
    assert set(registry) == set(BUILTIN_SPECS)
    catalogue = {entry.type: entry for entry in registry.catalogue()}
    assert catalogue["condition"].aliases == ["conditional"]
    assert catalogue["delay"].aliases == ["wait"]
    assert catalogue["api_call"].aliases == ["http_request"]
    assert catalogue["deployment_create"].outputs[:3] == ["deployment_id", "endpoint_url", "status"]
    assert catalogue["model_add"].params_schema["required"] == ["model_uri"]
    assert registry.resolve("http_request") is registry.resolve("api_call")


def test_registering_a_taken_name_is_refused() -> None:
    registry = builtin_registry()

    async def handler(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="'wait' is already registered"):
        registry.action("pause", aliases=("wait",))(handler)


async def test_custom_action_module_is_loaded_and_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_budai_actions.py").write_text(
        textwrap.dedent(
            """
            def register(registry):
                @registry.action(
                    "greet",
                    params={"type": "object", "properties": {"name": {"type": "string"}},
                            "required": ["name"], "additionalProperties": False},
                    outputs=("greeting",),
                )
                async def greet(params, ctx):
                    ctx.log.info("greeting " + params["name"])
                    return {"greeting": "hello " + params["name"]}
            """
        )
    )
    (tmp_path / "not_actions.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    runner = make_runner()
    runner.actions.load_module("my_budai_actions")
    with pytest.raises(TypeError, match="no register"):
        runner.actions.load_module("not_actions")
    with pytest.raises(ImportError):
        runner.actions.load_module("no_such_module_anywhere")
    result = await run_steps(
        runner, [{"id": "g", "action": "greet", "params": {"name": "{{ params.who }}"}}], who="bud"
    )
    assert result.status == "completed"
    assert result.steps["g"].output == {"greeting": "hello bud"}
    bad = await run_steps(runner, [{"id": "g", "action": "greet", "params": {}}])
    assert bad.error is not None and "steps[0].params.name" in bad.error
    sys.modules.pop("my_budai_actions", None)
    sys.modules.pop("not_actions", None)


async def test_entry_point_actions_are_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ep_actions.py").write_text(
        textwrap.dedent(
            """
            async def shout(params, ctx):
                return {"text": str(params.get("text", "")).upper()}

            def register(registry):
                registry.action("shout", outputs=("text",))(shout)
            """
        )
    )
    dist = tmp_path / "ep_actions-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-actions\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[budai.actions]\nshouting = ep_actions\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    runner = make_runner()
    assert runner.actions.load_entry_points() == ["shouting"]
    result = await run_steps(runner, [{"id": "s", "action": "shout", "params": {"text": "hi"}}])
    assert result.steps["s"].output == {"text": "HI"}
    assert {entry.type: entry.category for entry in runner.actions.catalogue()}["shout"] == "custom"
    sys.modules.pop("ep_actions", None)


# ------------------------------------------------------------------ core actions

# The targets of these tests listen on loopback; the security tests cover the strict policy.
LOOPBACK_ALLOWED = OutboundPolicy(allow_loopback=True)

TRANSFORMS = [
    ("passthrough", {"a": 1}, {"a": 1}),
    ("uppercase", "abc", "ABC"),
    ("uppercase", ["a", "b"], ["A", "B"]),
    ("lowercase", "AbC", "abc"),
    ("keys", {"a": 1, "b": 2}, ["a", "b"]),
    ("values", {"a": 1, "b": 2}, [1, 2]),
    ("count", [1, 2, 3], 3),
    ("count", {"a": 1}, 1),
    ("count", "abcd", 4),
    ("flatten", [[1, 2], 3, [4, [5]]], [1, 2, 3, 4, [5]]),
    ("flatten", {"a": {"b": 1, "c": {"d": 2}}, "e": 3}, {"a.b": 1, "a.c.d": 2, "e": 3}),
    ("unique", [1, 2, 1, {"x": 1}, {"x": 1}], [1, 2, {"x": 1}]),
    ("sort", [3, 1, 2], [1, 2, 3]),
    ("sort", {"b": 1, "a": 2}, {"a": 2, "b": 1}),
    ("reverse", [1, 2, 3], [3, 2, 1]),
    ("reverse", "abc", "cba"),
]


@pytest.mark.parametrize(("operation", "value", "expected"), TRANSFORMS)
def test_transform_operations(operation: str, value: Any, expected: Any) -> None:
    assert transform_value(operation, value) == expected


@pytest.mark.parametrize(
    ("operation", "value"),
    [
        ("uppercase", 5),
        ("keys", [1]),
        ("count", 3),
        ("flatten", "ab"),
        ("unique", "ab"),
        ("sort", [1, "a"]),
        ("reverse", 3),
    ],
)
def test_transform_rejects_wrong_input_types_without_retry(operation: str, value: Any) -> None:
    with pytest.raises(ActionError) as caught:
        transform_value(operation, value)
    assert caught.value.retryable is False


async def test_core_actions_through_the_runner() -> None:
    log = ListLog()
    steps = [
        {"id": "say", "action": "log", "params": {"message": "hello {{ params.who }}", "level": "warning"}},
        {
            "id": "shape",
            "action": "transform",
            "params": {"input": "{{ params.items }}", "operation": "count"},
        },
        {"id": "pub", "action": "set_output", "params": {"values": {"n": "{{ steps.shape.output.result }}"}}},
        {"id": "nap", "action": "wait", "params": {"seconds": 0.01}},
    ]
    result = await run_steps(make_runner(), steps, log, who="bud", items=[1, 2, 3])
    assert result.steps["say"].output == {"logged": True, "message": "hello bud", "level": "warning"}
    assert ("warning", "say", "hello bud") in log.lines
    assert result.steps["shape"].output == {"result": 3}
    assert result.steps["pub"].output == {"n": 3}
    assert result.steps["nap"].output["waited_seconds"] >= 0.01
    failing = await run_steps(make_runner(), [{"id": "f", "action": "fail", "params": {}}])
    assert failing.steps["f"].error == "step failed"


# ------------------------------------------------------------------ HTTP actions


async def start_target(aiohttp_server: Any) -> tuple[TestServer, list[dict[str, Any]]]:
    """A small HTTP service the actions call (the outside world, not our server)."""
    received: list[dict[str, Any]] = []

    async def echo(request: web.Request) -> web.Response:
        body = await request.text()
        received.append(
            {"method": request.method, "path": request.path, "body": body, "headers": dict(request.headers)}
        )
        return web.json_response({"method": request.method, "got": json.loads(body) if body else None})

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        received.append({"path": request.path})
        return web.Response(status=code, text=f"status {code}")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late")

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="plain words")

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow", slow)
    app.router.add_get("/text", text)
    server: TestServer = await aiohttp_server(app)
    return server, received


async def test_api_call_success_parses_json_and_sends_the_body(aiohttp_server: Any) -> None:
    server, received = await start_target(aiohttp_server)
    async with aiohttp.ClientSession() as session:
        runner = make_runner(session)
        step = {
            "id": "call",
            "action": "http_request",
            "params": {
                "url": str(server.make_url("/echo")),
                "method": "POST",
                "headers": {"X-Trace": "t1"},
                "body": {"model": "{{ params.model }}"},
            },
        }
        text_step = {"id": "text", "action": "api_call", "params": {"url": str(server.make_url("/text"))}}
        result = await run_steps(runner, [step, text_step], model="m1")
    assert result.status == "completed", result.error
    output = result.steps["call"].output
    assert output["status_code"] == 200
    assert output["body"] == {"method": "POST", "got": {"model": "m1"}}
    assert output["headers"]["Content-Type"].startswith("application/json")
    assert received[0]["headers"]["X-Trace"] == "t1"
    assert result.steps["text"].output["body"] == "plain words"


@pytest.mark.parametrize(("code", "attempts"), [(503, 2), (404, 1), (429, 2)])
async def test_api_call_non_2xx_fails_and_only_transient_codes_retry(
    aiohttp_server: Any, code: int, attempts: int
) -> None:
    server, received = await start_target(aiohttp_server)
    async with aiohttp.ClientSession() as session:
        step = {
            "id": "call",
            "action": "api_call",
            "params": {"url": str(server.make_url(f"/status/{code}"))},
            "retry": {"max_attempts": 2, "initial_delay_seconds": 0},
        }
        result = await run_steps(make_runner(session), [step])
    state = result.steps["call"]
    assert (state.status, state.attempts, len(received)) == ("failed", attempts, attempts)
    assert state.error == f"GET {server.make_url(f'/status/{code}')} answered HTTP {code}: status {code}"


async def test_api_call_timeout_and_refused_connection(aiohttp_server: Any, unused_tcp_port: int) -> None:
    server, _received = await start_target(aiohttp_server)
    async with aiohttp.ClientSession() as session:
        steps = [
            {
                "id": "slow",
                "action": "api_call",
                "params": {"url": str(server.make_url("/slow")), "timeout_seconds": 0.05},
            },
            {
                "id": "refused",
                "action": "api_call",
                "params": {"url": f"http://127.0.0.1:{unused_tcp_port}/x"},
            },
            {"id": "bad_url", "action": "api_call", "params": {"url": "ftp://example.com/x"}},
        ]
        result = await run_steps(make_runner(session), steps)
    assert result.steps["slow"].error == f"GET {server.make_url('/slow')} timed out after 0.05s"
    assert (result.steps["refused"].error or "").startswith(
        f"GET http://127.0.0.1:{unused_tcp_port}/x failed: Client"
    )
    assert result.steps["bad_url"].error == "URL must be absolute http(s), got 'ftp://example.com/x'"


async def test_api_call_without_a_session_fails_clearly() -> None:
    result = await run_steps(
        make_runner(), [{"id": "c", "action": "api_call", "params": {"url": "http://x.invalid"}}]
    )
    assert result.steps["c"].error == "no HTTP session is configured for this server"


async def test_notification_posts_to_the_step_url_or_the_configured_one(aiohttp_server: Any) -> None:
    server, received = await start_target(aiohttp_server)
    url = str(server.make_url("/echo"))
    async with aiohttp.ClientSession() as session:
        steps = [
            {
                "id": "n1",
                "action": "notification",
                "params": {
                    "channel": "teams",
                    "message": "done",
                    "title": "Deploy",
                    "url": url,
                    "recipients": ["ops"],
                },
            },
            {"id": "n2", "action": "notification", "params": {"message": "fallback", "severity": "error"}},
        ]
        result = await run_steps(
            make_runner(session, ActionSettings(notification_url=url, outbound=LOOPBACK_ALLOWED)), steps
        )
    assert result.status == "completed", result.error
    first = result.steps["n1"].output
    assert (
        first["sent"] is True
        and first["channel"] == "teams"
        and first["notification_id"].startswith("notif_")
    )
    bodies = [json.loads(item["body"]) for item in received]
    assert (
        bodies[0]["title"] == "Deploy" and bodies[0]["recipients"] == ["ops"] and bodies[0]["step_id"] == "n1"
    )
    assert bodies[0]["text"] == "Deploy\ndone"
    assert bodies[1]["message"] == "fallback" and bodies[1]["severity"] == "error"


async def test_notification_without_a_url_logs_the_message() -> None:
    log = ListLog()
    step = {
        "id": "n",
        "action": "notification",
        "params": {"message": "hi", "severity": "critical", "channel": "email"},
    }
    result = await run_steps(make_runner(), [step], log)
    assert result.steps["n"].output["sent"] is False
    assert result.steps["n"].output["delivery"] == "log"
    assert ("error", "n", "[email] hi") in log.lines
    (warning,) = [message for level, _step, message in log.lines if level == "warning"]
    assert "was NOT sent to email" in warning  # a logged notification never reads as a sent one


# ------------------------------------------------------------------ platform actions and inventory


async def test_platform_lifecycle() -> None:
    runner = make_runner()
    steps = [
        {"id": "add", "action": "model_add", "params": {"model_uri": "org/Model-7B", "model_name": "seven"}},
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {
                "model_id": "{{ steps.add.output.model_id }}",
                "cluster_id": "cluster_staging",
                "replicas": 2,
            },
        },
        {
            "id": "scale",
            "action": "deployment_scale",
            "params": {"deployment_id": "{{ steps.deploy.output.deployment_id }}", "replicas": 5},
        },
        {
            "id": "busy_model",
            "action": "model_delete",
            "params": {"model_id": "{{ steps.add.output.model_id }}"},
            "depends_on": ["scale"],
        },
        {
            "id": "undeploy",
            "action": "deployment_delete",
            "params": {"deployment_id": "{{ steps.deploy.output.deployment_id }}"},
            "depends_on": ["busy_model"],
        },
        {
            "id": "drop_model",
            "action": "model_delete",
            "params": {"model_id": "{{ steps.add.output.model_id }}"},
            "depends_on": ["undeploy"],
        },
        {
            "id": "health",
            "action": "cluster_health",
            "params": {"cluster_id": "cluster_staging", "checks": ["nodes", "gpu"]},
        },
        {"id": "unknown", "action": "cluster_health", "params": {"cluster_id": "cluster_mars"}},
    ]
    result = await run_steps(runner, steps)
    out = {step_id: state.output for step_id, state in result.steps.items()}
    assert out["add"]["model_name"] == "seven" and out["add"]["status"] == "available"
    assert out["deploy"]["replicas"] == 2 and out["deploy"]["status"] == "running"
    assert out["scale"] == {
        "replicas": 5,
        "deployment_id": out["deploy"]["deployment_id"],
        "previous_replicas": 2,
    }
    assert result.steps["busy_model"].status == "failed"
    assert "is used by deployment(s)" in (result.steps["busy_model"].error or "")
    # busy_model failed, so its dependents were skipped: the deployment is still there
    assert result.steps["undeploy"].skip_reason == "upstream_failed"
    assert out["health"] == {
        "healthy": True,
        "status": "healthy",
        "issues": [],
        "details": {
            "nodes": {"ok": True, "ready": 4, "total": 4, "message": "0 node(s) NotReady"},
            "gpu": {"ok": True, "usable": 8, "total": 8, "message": "0 GPU(s) failing"},
        },
    }
    unknown = result.steps["unknown"]  # an unknown cluster fails at once, without retry
    assert (unknown.status, unknown.attempts) == ("failed", 1)
    assert unknown.error == "cluster 'cluster_mars' is not known"


async def test_cluster_health_fails_retryably_unless_healthy_or_asked_for_the_report() -> None:
    runner = make_runner(inventory=InventorySettings(unhealthy_clusters=("cluster_dev",)))
    retry = {"max_attempts": 2, "initial_delay_seconds": 0.001}
    steps = [
        {"id": "check", "action": "cluster_health", "params": {"cluster_id": "cluster_dev"}, "retry": retry},
        {
            "id": "probe",
            "action": "cluster_health",
            "params": {"cluster_id": "cluster_dev", "fail_if_unhealthy": False},
        },
    ]
    result = await run_steps(runner, steps)
    check = result.steps["check"]
    assert (check.status, check.attempts) == ("failed", 2)
    assert check.error is not None and check.error.startswith(
        "cluster cluster_dev is degraded: 1 node(s) NotReady"
    )
    probe = result.steps["probe"]
    assert probe.status == "completed" and probe.output["status"] == "degraded"
    assert probe.output["healthy"] is False


async def test_delete_and_reference_errors_are_clear_and_final() -> None:
    runner = make_runner()
    steps = [
        {
            "id": "d1",
            "action": "deployment_create",
            "params": {"model_id": "model_nope", "cluster_id": "cluster_prod"},
            "retry": {"max_attempts": 3},
        },
        {"id": "d2", "action": "deployment_delete", "params": {"deployment_id": "deploy_nope"}},
        {"id": "d3", "action": "model_delete", "params": {"model_id": "model_nope"}},
    ]
    result = await run_steps(runner, steps)
    assert [(s.status, s.attempts, s.error) for s in result.steps.values()] == [
        ("failed", 1, "model 'model_nope' does not exist"),
        ("failed", 1, "deployment 'deploy_nope' does not exist"),
        ("failed", 1, "model 'model_nope' does not exist"),
    ]


async def test_unhealthy_cluster_is_degraded_and_refuses_deployments() -> None:
    inventory = Inventory(MemoryInventoryStore(), InventorySettings(unhealthy_clusters=("cluster_prod",)))
    report = await inventory.cluster_health("cluster_prod")
    assert report["status"] == "degraded" and report["healthy"] is False
    assert report["issues"] == ["1 node(s) NotReady", "16 GPU(s) failing", "network latency high"]
    model = await inventory.add_model("a/b", "url")
    with pytest.raises(InventoryError, match="unhealthy") as caught:
        await inventory.create_deployment(model["id"], "cluster_prod")
    assert caught.value.retryable is True


async def test_fault_injection_is_seeded_and_latency_applies() -> None:
    outcomes = []
    for _ in range(2):
        inventory = Inventory(MemoryInventoryStore(), InventorySettings(failure_rate=0.5, seed=42))
        run = []
        for _ in range(20):
            try:
                await inventory.add_model("a/b", "hugging_face")
                run.append(True)
            except InventoryError as exc:
                assert exc.retryable and str(exc) == "simulated platform fault during model_add"
                run.append(False)
        outcomes.append(run)
    assert outcomes[0] == outcomes[1]
    assert 0 < outcomes[0].count(False) < 20

    slow = Inventory(MemoryInventoryStore(), InventorySettings(latency_seconds=0.05))
    started = time.monotonic()
    await slow.cluster_health("cluster_dev")
    assert time.monotonic() - started >= 0.05


async def test_seeded_clusters_exist_once() -> None:
    store = MemoryInventoryStore()
    inventory = Inventory(store)
    await inventory.seed()
    await inventory.seed()
    assert sorted(c["id"] for c in await inventory.list("cluster")) == [
        "cluster_dev",
        "cluster_prod",
        "cluster_staging",
    ]


@pytest.mark.parametrize("missing", ["model", "cluster"])
async def test_deploying_an_unknown_reference_fails_without_retry(missing: str) -> None:
    inventory = Inventory(MemoryInventoryStore())
    model = await inventory.add_model("a/b", "disk")
    model_id, cluster_id = ("model_x", "cluster_prod") if missing == "model" else (model["id"], "cluster_x")
    with pytest.raises(InventoryError, match=f"{missing} '.*' does not exist") as caught:
        await inventory.create_deployment(model_id, cluster_id)
    assert caught.value.retryable is False


def test_docs_reference_every_builtin_action_and_its_outputs() -> None:
    text = (Path(__file__).parents[2] / "docs" / "engine.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| `")}
    for name, spec in BUILTIN_SPECS.items():
        row = next((line for key, line in rows.items() if key.startswith(f"`{name}`")), None)
        assert row is not None, f"docs/engine.md has no row for {name}"
        for alias in spec.aliases:
            assert f"`{alias}`" in row
        for output in spec.outputs:
            assert f"`{output}`" in row, f"{name}: output {output} undocumented"
