"""The execution runner (budai_server.engine.runner) driven directly: semantics of DESIGN §4."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import attrs
import pytest
from guide_pipelines import DEPLOY_MODEL, TEMPLATE, resilient

from budai_server.actions import ActionContext, ActionRegistry
from budai_server.actions.builtins import builtin_registry
from budai_server.config import InventorySettings
from budai_server.engine.runner import ExecutionRunner
from budai_server.engine.types import RunContext, RunResult, StepState
from budai_server.store.inventory import Inventory, MemoryInventoryStore


class ListLog:
    """A LogSink keeping every line."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str | None, str]] = []

    def emit(self, execution_id: str, level: str, message: str, step_id: str | None = None) -> None:
        self.lines.append((level, step_id, message))

    def of(self, step_id: str | None) -> list[str]:
        return [message for _level, step, message in self.lines if step == step_id]


@attrs.define
class Engine:
    runner: ExecutionRunner
    inventory: Inventory
    registry: ActionRegistry
    log: ListLog = attrs.field(factory=ListLog)
    reports: list[tuple[str, str]] = attrs.field(factory=list)

    def context(self, definition: dict[str, Any], **options: Any) -> RunContext:
        async def report(step_id: str, state: StepState) -> None:
            self.reports.append((step_id, state.status))

        return RunContext(
            execution_id="exec_test",
            definition=definition,
            params=options.pop("params", {}),
            report_step=report,
            log=self.log,
            **options,
        )

    async def run(self, definition: dict[str, Any], **options: Any) -> RunResult:
        return await self.runner.run(self.context(definition, **options))

    def statuses(self, step_id: str) -> list[str]:
        return [status for step, status in self.reports if step == step_id]


def make_engine(settings: InventorySettings | None = None) -> Engine:
    registry = builtin_registry()
    inventory = Inventory(MemoryInventoryStore(), settings or InventorySettings(seed=7))
    return Engine(ExecutionRunner(registry, inventory), inventory, registry)


@pytest.fixture
def engine() -> Engine:
    return make_engine()


def steps_of(result: RunResult) -> dict[str, tuple[str, str | None, int]]:
    return {step_id: (s.status, s.skip_reason, s.attempts) for step_id, s in result.steps.items()}


def log_step(step_id: str, message: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "action": "log", "params": {"message": message}, **extra}


def fail_step(step_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "action": "fail", "params": {"message": f"{step_id} broke"}, **extra}


# ------------------------------------------------------------------ the guide's pipelines


async def test_deploy_model_passes_the_new_model_id_into_the_deployment(engine: Engine) -> None:
    result = await engine.run(DEPLOY_MODEL)
    assert result.status == "completed", result.error
    model_id = result.steps["add_model"].output["model_id"]
    assert model_id.startswith("model_")
    deployment = result.steps["deploy"].output
    assert deployment["model_id"] == model_id
    assert deployment["endpoint_url"].startswith("https://cluster-prod.")
    assert result.outputs == deployment  # the sink's output
    stored = await engine.inventory.list("deployment")
    assert [(d["id"], d["model_id"], d["name"]) for d in stored] == [
        (deployment["deployment_id"], model_id, "llama-deployment")
    ]


async def test_resilient_deployment_on_a_healthy_cluster_skips_the_failure_handler(engine: Engine) -> None:
    model = await engine.inventory.add_model("org/m", "hugging_face")
    result = await engine.run(resilient(), params={"model_id": model["id"], "cluster_id": "cluster_prod"})
    assert result.status == "completed"
    assert steps_of(result) == {
        "health_check": ("completed", None, 1),
        "deploy": ("completed", None, 1),
        "notify_failure": ("skipped", "condition_false", 0),
    }


async def test_resilient_deployment_with_a_failing_deploy_runs_the_handler_and_fails(engine: Engine) -> None:
    result = await engine.run(
        resilient(), params={"model_id": "model_does_not_exist", "cluster_id": "cluster_prod"}
    )
    assert steps_of(result) == {
        "health_check": ("completed", None, 1),
        "deploy": ("failed", None, 1),  # a bad reference is not retried
        "notify_failure": ("completed", None, 1),
    }
    assert result.status == "failed"
    assert result.error == "step 'deploy' failed: model 'model_does_not_exist' does not exist"
    assert result.steps["notify_failure"].output["sent"] is False  # no URL configured: logged
    assert any("[slack] Deployment failed" in line for line in engine.log.of("notify_failure"))


async def test_resilient_deployment_on_a_degraded_cluster_fails_and_notifies() -> None:
    engine = make_engine(InventorySettings(unhealthy_clusters=("cluster_dev",)))
    model = await engine.inventory.add_model("org/m", "hugging_face")
    result = await engine.run(resilient(), params={"model_id": model["id"], "cluster_id": "cluster_dev"})
    assert steps_of(result) == {
        "health_check": ("failed", None, 3),  # the guide's retry policy applies
        "deploy": ("skipped", "upstream_failed", 0),
        "notify_failure": ("completed", None, 1),  # deploy reads 'failed': it never ran because of a failure
    }
    error = result.steps["health_check"].error
    assert error is not None and error.startswith("cluster cluster_dev is degraded: 1 node(s) NotReady")
    assert result.status == "failed" and result.error == f"step 'health_check' failed: {error}"


async def test_resilient_health_check_retries_platform_faults_then_gives_up() -> None:
    engine = make_engine(InventorySettings(failure_rate=1.0, seed=1))
    result = await engine.run(resilient(0.001), params={"model_id": "model_x", "cluster_id": "cluster_prod"})
    assert steps_of(result) == {
        "health_check": ("failed", None, 3),
        "deploy": ("skipped", "upstream_failed", 0),
        "notify_failure": (
            "completed",
            None,
            1,
        ),  # status-aware: deploy skipped upstream_failed reads 'failed'
    }
    assert result.status == "failed"
    assert engine.statuses("health_check") == [
        "running",
        "retrying",
        "running",
        "retrying",
        "running",
        "failed",
    ]


async def test_template_pipeline_with_different_params_deploys_different_models(engine: Engine) -> None:
    first = await engine.run(
        TEMPLATE,
        params={
            "model_uri": "meta-llama/Llama-3.2-1B",
            "model_source": "hugging_face",
            "cluster_id": "cluster_prod",
        },
    )
    second = await engine.run(
        TEMPLATE,
        params={
            "model_uri": "mistralai/Mistral-7B",
            "model_source": "hugging_face",
            "cluster_id": "cluster_dev",
        },
    )
    assert first.status == second.status == "completed"
    models = {m["id"]: m["uri"] for m in await engine.inventory.list("model")}
    one, two = first.steps["deploy"].output, second.steps["deploy"].output
    assert models[one["model_id"]] == "meta-llama/Llama-3.2-1B"
    assert models[two["model_id"]] == "mistralai/Mistral-7B"
    assert (one["cluster_id"], two["cluster_id"]) == ("cluster_prod", "cluster_dev")


# ------------------------------------------------------------------ gates and skips


async def test_default_gate_skips_after_a_failure_and_the_skip_flows_down(engine: Engine) -> None:
    definition = {
        "steps": [
            fail_step("a"),
            log_step("b", depends_on=["a"]),
            log_step("c", depends_on=["b"]),
            log_step("ok"),
            log_step("d", depends_on=["c", "ok"]),
        ]
    }
    result = await engine.run(definition)
    assert steps_of(result) == {
        "a": ("failed", None, 1),
        "b": ("skipped", "upstream_failed", 0),
        "c": ("skipped", "upstream_failed", 0),
        "ok": ("completed", None, 1),
        "d": ("skipped", "upstream_failed", 0),
    }
    assert result.status == "failed"
    assert "step skipped (upstream_failed)" in engine.log.of("b")


async def test_condition_false_and_upstream_skipped(engine: Engine) -> None:
    definition = {
        "steps": [
            log_step("a", condition="params.go"),
            log_step("b", depends_on=["a"]),
            log_step("c", "{{ steps.b.output.message }}"),
        ]
    }
    result = await engine.run(definition, params={"go": "false"})
    assert steps_of(result) == {
        "a": ("skipped", "condition_false", 0),
        "b": ("skipped", "upstream_skipped", 0),
        "c": ("skipped", "upstream_skipped", 0),
    }
    assert result.status == "completed"
    result = await engine.run(definition, params={"go": True})
    assert [s.status for s in result.steps.values()] == ["completed"] * 3


async def test_status_aware_gate_waits_for_dependencies_whatever_their_end(engine: Engine) -> None:
    definition = {
        "steps": [
            {"id": "slow_fail", "action": "fail", "params": {"message": "late"}},
            {
                "id": "cleanup",
                "action": "log",
                "params": {"message": "cleanup"},
                "condition": "steps.slow_fail.status != 'completed'",
            },
            {
                "id": "always",
                "action": "log",
                "params": {"message": "x"},
                "condition": "steps.slow_fail.status in ['failed', 'completed']",
            },
        ]
    }
    result = await engine.run(definition)
    assert steps_of(result)["cleanup"] == ("completed", None, 1)
    assert steps_of(result)["always"] == ("completed", None, 1)
    assert result.status == "failed"  # a handler ran, the failure still counts


async def test_a_condition_error_fails_the_step_without_running_it(engine: Engine) -> None:
    definition = {"steps": [log_step("a", condition="params.n > 'x'", retry={"max_attempts": 3})]}
    result = await engine.run(definition, params={"n": 1})
    state = result.steps["a"]
    assert (state.status, state.attempts) == ("failed", 0)
    assert state.error is not None and state.error.startswith("condition error: TypeError")


# ------------------------------------------------------------------ branching


def branching() -> dict[str, Any]:
    return {
        "steps": [
            {
                "id": "check",
                "action": "conditional",
                "params": {"condition": "value > 100", "on_true": "path_a", "on_false": ["path_b"]},
            },
            log_step("path_a", "big"),
            log_step("path_b", "small"),
            log_step("after_b", depends_on=["path_b"]),
            log_step(
                "join",
                "{{ steps.path_a.status }}/{{ steps.path_b.status }}",
                depends_on=["path_a", "after_b"],
            ),
        ]
    }


@pytest.mark.parametrize(
    ("value", "ran", "skipped", "join_message"),
    [
        (150, "path_a", "path_b", "completed/skipped"),
        (50, "path_b", "path_a", "skipped/completed"),
    ],
)
async def test_condition_action_skips_the_branch_not_taken_and_the_join_runs(
    engine: Engine, value: int, ran: str, skipped: str, join_message: str
) -> None:
    result = await engine.run(branching(), params={"value": value})
    states = steps_of(result)
    assert result.steps["check"].output == {
        "result": value > 100,
        "branch": "on_true" if value > 100 else "on_false",
        "next_steps": [ran],
    }
    assert states[ran] == ("completed", None, 1)
    assert states[skipped] == ("skipped", "branch_not_taken", 0)
    assert states["after_b"] == (
        ("completed", None, 1) if ran == "path_b" else ("skipped", "upstream_skipped", 0)
    )
    assert states["join"] == ("completed", None, 1)
    assert result.steps["join"].output["message"] == join_message
    assert result.status == "completed"


async def test_condition_action_errors_are_not_retried(engine: Engine) -> None:
    definition = {
        "steps": [
            {
                "id": "check",
                "action": "condition",
                "params": {"condition": "params.n / 0 > 1", "on_true": "a"},
                "retry": {"max_attempts": 3, "initial_delay_seconds": 0},
            },
            log_step("a"),
        ]
    }
    result = await engine.run(definition, params={"n": 1})
    assert steps_of(result) == {"check": ("failed", None, 1), "a": ("skipped", "upstream_failed", 0)}
    assert "ZeroDivisionError" in (result.steps["check"].error or "")


# ------------------------------------------------------------------ retries and timeouts


async def test_retries_count_every_attempt_and_wait_with_backoff(engine: Engine) -> None:
    definition = {
        "steps": [
            fail_step(
                "flaky",
                retry={
                    "max_attempts": 3,
                    "initial_delay_seconds": 0.02,
                    "backoff_multiplier": 2,
                    "max_delay_seconds": 1,
                },
            )
        ]
    }
    started = time.monotonic()
    result = await engine.run(definition)
    elapsed = time.monotonic() - started
    assert steps_of(result) == {"flaky": ("failed", None, 3)}
    assert elapsed >= 0.06  # 0.02 + 0.04
    waits = [line for line in engine.log.of("flaky") if "retrying in" in line]
    assert waits == [
        "attempt 1/3 failed: flaky broke; retrying in 0.02s",
        "attempt 2/3 failed: flaky broke; retrying in 0.04s",
    ]
    assert engine.statuses("flaky") == ["running", "retrying", "running", "retrying", "running", "failed"]
    assert (
        result.steps["flaky"].duration_seconds is not None and result.steps["flaky"].duration_seconds >= 0.06
    )


async def test_a_retry_that_succeeds_completes_the_step(engine: Engine) -> None:
    calls: list[int] = []

    @engine.registry.action("flaky_once")
    async def flaky_once(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("transient")
        return {"attempt": ctx.attempt}

    definition = {
        "steps": [
            {
                "id": "f",
                "action": "flaky_once",
                "params": {},
                "retry": {"max_attempts": 2, "initial_delay_seconds": 0},
            }
        ]
    }
    result = await engine.run(definition)
    assert steps_of(result) == {"f": ("completed", None, 2)}
    assert result.steps["f"].output == {"attempt": 2}
    assert calls == [1, 2]


async def test_step_timeouts_are_retried_and_end_as_timeout(engine: Engine) -> None:
    definition = {
        "steps": [
            {
                "id": "slow",
                "action": "delay",
                "params": {"seconds": 5},
                "timeout_seconds": 0.05,
                "retry": {"max_attempts": 2, "initial_delay_seconds": 0.01},
            },
            log_step("after", depends_on=["slow"]),
        ]
    }
    started = time.monotonic()
    result = await engine.run(definition)
    assert time.monotonic() - started < 1
    assert steps_of(result) == {"slow": ("timeout", None, 2), "after": ("skipped", "upstream_failed", 0)}
    assert result.steps["slow"].error == "timed out after 0.05s"
    assert result.status == "failed"


async def test_template_errors_are_not_retried(engine: Engine) -> None:
    definition = {
        "steps": [
            log_step("a", "{{ params.missing }}", retry={"max_attempts": 3, "initial_delay_seconds": 0})
        ]
    }
    result = await engine.run(definition)
    state = result.steps["a"]
    assert (state.status, state.attempts) == ("failed", 0)
    assert state.error == "params.message: undefined value: 'dict object' has no attribute 'missing'"


async def test_params_that_break_the_schema_after_rendering_are_not_retried(engine: Engine) -> None:
    definition = {
        "steps": [
            {
                "id": "scale",
                "action": "deployment_scale",
                "params": {"deployment_id": "d", "replicas": "{{ params.replicas }}"},
                "retry": {"max_attempts": 3, "initial_delay_seconds": 0},
            }
        ]
    }
    result = await engine.run(definition, params={"replicas": "three"})
    state = result.steps["scale"]
    assert (state.status, state.attempts) == ("failed", 0)
    assert state.error == "invalid params after rendering: params.replicas: expected integer, got string"


async def test_execution_timeout_cancels_running_steps(engine: Engine) -> None:
    definition = {
        "steps": [
            {"id": "slow", "action": "delay", "params": {"seconds": 5}},
            log_step("next", depends_on=["slow"]),
        ]
    }
    started = time.monotonic()
    result = await engine.run(definition, timeout_seconds=0.1)
    assert time.monotonic() - started < 1
    assert result.status == "timeout"
    assert result.error == "execution timed out after 0.1s"
    assert steps_of(result) == {"slow": ("timeout", None, 1), "next": ("skipped", "execution_timeout", 0)}


async def test_no_retry_starts_past_the_execution_deadline(engine: Engine) -> None:
    definition = {"steps": [fail_step("f", retry={"max_attempts": 5, "initial_delay_seconds": 1})]}
    started = time.monotonic()
    result = await engine.run(definition, timeout_seconds=0.5)
    assert time.monotonic() - started < 0.4
    assert steps_of(result) == {"f": ("failed", None, 1)}
    assert result.status == "failed"


# ------------------------------------------------------------------ cancellation, resume, outputs, metrics


async def test_cancelling_the_run_task_cancels_steps_and_still_returns_a_result(engine: Engine) -> None:
    definition = {
        "steps": [
            {"id": "slow", "action": "delay", "params": {"seconds": 5}},
            {"id": "slow2", "action": "delay", "params": {"seconds": 5}},
            log_step("next", depends_on=["slow"]),
        ]
    }
    both_running = asyncio.Event()
    ctx = engine.context(definition)
    report = ctx.report_step

    async def report_and_watch(step_id: str, state: StepState) -> None:
        await report(step_id, state)
        if engine.statuses("slow") == engine.statuses("slow2") == ["running"]:
            both_running.set()

    ctx.report_step = report_and_watch
    task = asyncio.create_task(engine.runner.run(ctx))
    await both_running.wait()
    task.cancel()
    result = await task
    assert result.status == "cancelled"
    assert result.error == "execution cancelled"
    assert steps_of(result) == {
        "slow": ("cancelled", None, 1),
        "slow2": ("cancelled", None, 1),
        "next": ("skipped", "execution_cancelled", 0),
    }
    assert engine.statuses("slow")[-1] == "cancelled"
    assert not task.cancelled()


async def test_resume_skips_steps_that_finished_before_a_restart(engine: Engine) -> None:
    prior_output = {"model_id": "model_prior", "model_name": "m", "status": "available"}
    await engine.inventory.store.inventory_put("model", "model_prior", {"id": "model_prior", "name": "m"})
    prior = {"add_model": StepState(status="completed", output=prior_output, attempts=1)}
    result = await engine.run(DEPLOY_MODEL, prior_steps=prior)
    assert result.status == "completed"
    assert await engine.inventory.list("model") == [{"id": "model_prior", "name": "m"}]  # not added again
    assert result.steps["deploy"].output["model_id"] == "model_prior"
    assert engine.statuses("add_model") == []
    assert engine.log.of("add_model") == []  # the finished step is neither re-run nor re-logged
    assert engine.log.of(None) == []  # the scheduler logs the resume, not the runner


async def test_outputs_come_from_the_definition_templates(engine: Engine) -> None:
    definition = {
        "steps": [log_step("a", "{{ params.word }}"), log_step("b", condition="false")],
        "outputs": {
            "said": "{{ steps.a.output.message }}",
            "from_skipped": "{{ steps.b.output.message }}",
            "fixed": 7,
        },
    }
    result = await engine.run(definition, params={"word": "hello"})
    assert result.outputs == {"said": "hello", "from_skipped": None, "fixed": 7}


async def test_default_outputs_merge_the_completed_sinks(engine: Engine) -> None:
    definition = {
        "steps": [
            {"id": "a", "action": "set_output", "params": {"values": {"x": 1, "shared": "a"}}},
            {"id": "b", "action": "set_output", "params": {"values": {"y": 2, "shared": "b"}}},
            {"id": "mid", "action": "set_output", "params": {"values": {"z": 3}}},
            {"id": "c", "action": "set_output", "params": {"values": {"w": "{{ steps.mid.output.z }}"}}},
        ]
    }
    result = await engine.run(definition)
    assert result.outputs == {"x": 1, "shared": "b", "y": 2, "w": 3}


async def test_independent_steps_run_concurrently(engine: Engine) -> None:
    definition = {"steps": [{"id": f"d{i}", "action": "delay", "params": {"seconds": 0.1}} for i in range(4)]}
    started = time.monotonic()
    result = await engine.run(definition)
    assert result.status == "completed"
    assert time.monotonic() - started < 0.3


async def test_cpu_seconds_measure_the_steps_own_work_not_waiting(engine: Engine) -> None:
    @engine.registry.action("burn")
    async def burn(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        end = time.thread_time() + 0.05
        while time.thread_time() < end:
            pass
        return {}

    busy = await engine.run({"steps": [{"id": "b", "action": "burn", "params": {}}]})
    idle = await engine.run({"steps": [{"id": "d", "action": "delay", "params": {"seconds": 0.1}}]})
    assert busy.cpu_seconds >= 0.05
    assert idle.cpu_seconds < 0.05
    assert busy.peak_memory_mb > 1 and idle.peak_memory_mb > 1


async def test_cpu_of_interleaved_executions_is_not_mixed(engine: Engine) -> None:
    @engine.registry.action("burn_slices")
    async def burn_slices(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        for _ in range(5):
            end = time.thread_time() + 0.01
            while time.thread_time() < end:
                pass
            await asyncio.sleep(0)
        return {}

    busy, idle = await asyncio.gather(
        engine.run({"steps": [{"id": "b", "action": "burn_slices", "params": {}}]}),
        engine.run({"steps": [{"id": "d", "action": "delay", "params": {"seconds": 0.05}}]}),
    )
    assert busy.cpu_seconds >= 0.05
    assert idle.cpu_seconds < 0.02


async def test_an_invalid_definition_or_params_fail_the_run_cleanly(engine: Engine) -> None:
    result = await engine.run({"steps": [{"id": "a", "action": "teleport", "params": {}}]})
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith(
        "invalid definition: unknown action 'teleport'"
    )
    definition = {"steps": [log_step("a")], "parameters": {"n": {"type": "integer", "required": True}}}
    result = await engine.run(definition)
    assert (result.status, result.error) == (
        "failed",
        "invalid params: params.n: required parameter 'n' is missing",
    )


async def test_an_action_returning_a_non_object_fails_without_retry(engine: Engine) -> None:
    @engine.registry.action("bad_output")
    async def bad_output(params: dict[str, Any], ctx: ActionContext) -> Any:
        return ["not", "an", "object"]

    definition = {"steps": [{"id": "b", "action": "bad_output", "params": {}, "retry": {"max_attempts": 3}}]}
    result = await engine.run(definition)
    assert steps_of(result) == {"b": ("failed", None, 1)}
    assert result.steps["b"].error == "action returned list, expected an object"


async def test_logs_cover_starts_finishes_retries_skips_and_the_end(engine: Engine) -> None:
    definition = {
        "steps": [
            fail_step("f", retry={"max_attempts": 2, "initial_delay_seconds": 0}),
            log_step("g", depends_on=["f"]),
        ]
    }
    await engine.run(definition)
    assert engine.log.of("f") == [
        "step started (fail, attempt 1/2)",
        "attempt 1/2 failed: f broke; retrying in 0s",
        "step started (fail, attempt 2/2)",
        "step failed after 2 attempt(s): f broke",
    ]
    assert engine.log.of("g") == ["step skipped (upstream_failed)"]
    assert engine.log.of(None) == []  # the scheduler logs the execution's start and end, not the runner
    levels = {message: level for level, _step, message in engine.log.lines}
    assert levels["step failed after 2 attempt(s): f broke"] == "error"
    assert levels["attempt 1/2 failed: f broke; retrying in 0s"] == "warning"


async def test_a_failing_reporter_ends_the_step_not_the_run(engine: Engine) -> None:
    async def report(step_id: str, state: StepState) -> None:
        if state.status == "running":
            raise OSError("disk full")

    ctx = RunContext(
        execution_id="e", definition={"steps": [log_step("a")]}, params={}, report_step=report, log=engine.log
    )
    result = await engine.runner.run(ctx)
    assert result.status == "failed"
    assert result.steps["a"].error == "internal error: OSError: disk full"


async def test_a_reporter_that_always_fails_still_yields_a_result(engine: Engine) -> None:
    async def report(step_id: str, state: StepState) -> None:
        raise OSError("store gone")

    ctx = RunContext(
        execution_id="e", definition={"steps": [log_step("a")]}, params={}, report_step=report, log=engine.log
    )
    result = await engine.runner.run(ctx)
    assert (result.status, result.steps["a"].status) == ("failed", "failed")
    assert result.steps["a"].error == "internal error: OSError: store gone"
