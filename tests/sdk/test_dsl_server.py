"""A DSL-built pipeline runs on the real server exactly like its hand-written JSON twin."""

from __future__ import annotations

from typing import Any

from budai_async import AsyncBudClient, Execution
from budai_async.pipeline.definition import analyse
from budai_async.pipeline.dsl import PipelineBuilder, Retry, actions, params

HAND_WRITTEN: dict[str, Any] = {
    "steps": [
        {
            "id": "health_check",
            "action": "cluster_health",
            "params": {"cluster_id": "{{ params.cluster_id }}"},
            "retry": {"max_attempts": 3, "backoff_multiplier": 2, "initial_delay_seconds": 0.01},
        },
        {
            "id": "add_model",
            "action": "model_add",
            "params": {"model_uri": "{{ params.model_uri }}", "model_source": "hugging_face"},
        },
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {
                "model_id": "{{ steps.add_model.output.model_id }}",
                "cluster_id": "{{ params.cluster_id }}",
                "deployment_name": "llama-deployment",
            },
            "depends_on": ["health_check", "add_model"],
            "condition": "steps.health_check.output.status == 'healthy'",
        },
        {
            "id": "shout",
            "action": "transform",
            "params": {"input": "{{ steps.deploy.output.status }}", "operation": "uppercase"},
            "depends_on": ["deploy"],
        },
        {
            "id": "check",
            "action": "condition",
            "params": {"condition": "params.replicas > 2", "on_true": "scale_up", "on_false": "note"},
        },
        {
            "id": "scale_up",
            "action": "deployment_scale",
            "params": {
                "deployment_id": "{{ steps.deploy.output.deployment_id }}",
                "replicas": "{{ params.replicas }}",
            },
            "depends_on": ["deploy"],
        },
        {"id": "note", "action": "log", "params": {"message": "kept {{ params.replicas }} replica(s)"}},
        {
            "id": "notify_failure",
            "action": "notification",
            "params": {"message": "Deployment failed", "channel": "slack"},
            "condition": "steps.deploy.status == 'failed'",
        },
    ],
    "outputs": {
        "endpoint_url": "{{ steps.deploy.output.endpoint_url }}",
        "loud": "{{ steps.shout.output.result }}",
    },
}


def build_with_dsl() -> PipelineBuilder:
    pipe = PipelineBuilder("Deploy (DSL)", description="the same pipeline, in Python")
    health = pipe.step(
        "health_check",
        actions.cluster_health(cluster_id=params.cluster_id),
        retry=Retry(max_attempts=3, backoff_multiplier=2, initial_delay_seconds=0.01),
    )
    add = pipe.step("add_model", actions.model_add(model_uri=params.model_uri, model_source="hugging_face"))
    deploy = pipe.step(
        "deploy",
        actions.deployment_create(
            model_id=add.output.model_id, cluster_id=params.cluster_id, deployment_name="llama-deployment"
        ),
        depends_on=[health],
        condition=health.output.status == "healthy",
    )
    shout = pipe.step("shout", actions.transform(input=deploy.output.status, operation="uppercase"))
    pipe.step("check", actions.condition(condition=params.replicas > 2, on_true="scale_up", on_false="note"))
    pipe.step(
        "scale_up",
        actions.deployment_scale(deployment_id=deploy.output.deployment_id, replicas=params.replicas),
    )
    pipe.step("note", actions.log(message=f"kept {params.replicas} replica(s)"))
    pipe.step(
        "notify_failure",
        actions.notification(message="Deployment failed", channel="slack"),
        condition=deploy.status == "failed",
    )
    pipe.output("endpoint_url", deploy.output.endpoint_url)
    pipe.output("loud", shout.output.result)
    return pipe


def shape(execution: Execution) -> dict[str, Any]:
    """What must match between the two runs (ids minted by the inventory differ run to run)."""
    return {
        "status": execution.status,
        "steps": {
            step_id: (
                step.status,
                step.skip_reason,
                sorted(step.output) if isinstance(step.output, dict) else None,
            )
            for step_id, step in execution.steps.items()
        },
        "outputs": sorted(execution.outputs),
        "loud": execution.outputs.get("loud"),
        "progress": (execution.completed_steps, execution.total_steps),
    }


def test_dsl_builds_the_hand_written_definition() -> None:
    """Same steps, params, conditions and retries, and the same DAG once dependencies are inferred."""
    pipe = build_with_dsl()
    pipe.validate()
    built = pipe.build()

    def without_deps(definition: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in step.items() if k != "depends_on"} for step in definition["steps"]]

    assert without_deps(built) == without_deps(HAND_WRITTEN)
    assert built["outputs"] == HAND_WRITTEN["outputs"]
    ours, theirs = analyse(built)[1], analyse(HAND_WRITTEN)[1]
    assert ours is not None and theirs is not None
    assert {k: s.dependencies for k, s in ours.steps.items()} == {
        k: s.dependencies for k, s in theirs.steps.items()
    }
    assert ours.order == theirs.order


async def test_dsl_pipeline_runs_like_the_json(bud_client: AsyncBudClient) -> None:
    from_dsl = await bud_client.pipelines.create(definition=build_with_dsl())
    from_json = await bud_client.pipelines.create(name="Deploy (JSON)", definition=HAND_WRITTEN)
    assert from_dsl.name == "Deploy (DSL)" and from_dsl.description == "the same pipeline, in Python"
    for replicas in (1, 3):
        run_params = {
            "cluster_id": "cluster_prod",
            "model_uri": "meta-llama/Llama-3.2-1B",
            "replicas": replicas,
        }
        dsl_run = await bud_client.executions.create(from_dsl.id, params=run_params, wait=True, timeout=30)
        json_run = await bud_client.executions.create(from_json.id, params=run_params, wait=True, timeout=30)
        assert dsl_run.status == "completed"
        assert shape(dsl_run) == shape(json_run)
        assert dsl_run.outputs["loud"] == "RUNNING"
        taken = "scale_up" if replicas > 2 else "note"
        skipped = "note" if replicas > 2 else "scale_up"
        assert dsl_run.steps[taken].status == "completed"
        assert dsl_run.steps[skipped].skip_reason == "branch_not_taken"
        assert dsl_run.steps["notify_failure"].status == "skipped"
