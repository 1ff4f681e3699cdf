"""The guide's "Creating Pipelines" and "Managing Pipelines" sections through the SDK, on the real server."""

from __future__ import annotations

import copy
from datetime import datetime

import pytest
from sdk_support import DEPLOY_STEPS, PipelineFactory, log_step

from budai_async import (
    AsyncBudClient,
    NotFoundError,
    Pipeline,
    UnprocessableEntityError,
    ValidationError,
)


async def test_create_basic_pipeline(bud_client: AsyncBudClient) -> None:
    pipeline = await bud_client.pipelines.create(
        name="Deploy Model",
        description="Automated model deployment workflow",
        definition={"steps": copy.deepcopy(DEPLOY_STEPS)},
    )
    assert isinstance(pipeline, Pipeline)
    assert pipeline.id.startswith("pipe_")
    assert pipeline.name == "Deploy Model"
    assert pipeline.description == "Automated model deployment workflow"
    assert pipeline.definition == {"steps": DEPLOY_STEPS}
    assert pipeline.step_count == 2
    assert isinstance(pipeline.created_at, datetime) and pipeline.created_at.tzinfo is not None


async def test_create_with_error_handling_steps(bud_client: AsyncBudClient) -> None:
    definition = {
        "steps": [
            {
                "id": "health_check",
                "action": "cluster_health",
                "params": {"cluster_id": "cluster_prod"},
                "retry": {"max_attempts": 3, "backoff_multiplier": 2},
            },
            {
                "id": "deploy",
                "action": "deployment_create",
                "params": {"model_id": "model_xyz", "cluster_id": "cluster_prod"},
                "depends_on": ["health_check"],
                "condition": "steps.health_check.output.status == 'healthy'",
            },
            {
                "id": "notify_failure",
                "action": "notification",
                "params": {"message": "Deployment failed", "channel": "slack"},
                "condition": "steps.deploy.status == 'failed'",
            },
        ]
    }
    pipeline = await bud_client.pipelines.create(name="Resilient Deployment", definition=definition)
    assert pipeline.definition == definition
    # model_xyz is not in the simulated inventory: deploy fails and the failure branch runs.
    execution = await bud_client.executions.create(pipeline.id, wait=True, timeout=30)
    assert execution.status == "failed"
    assert execution.steps["health_check"].output["status"] == "healthy"
    assert execution.steps["deploy"].status == "failed"
    assert "model_xyz" in (execution.steps["deploy"].error or "")
    assert execution.steps["notify_failure"].status == "completed"
    assert execution.steps["notify_failure"].output["notification_id"]


async def test_common_action_types_validate(bud_client: AsyncBudClient) -> None:
    definition = {
        "steps": [
            {"id": "logger", "action": "log", "params": {"message": "Processing started", "level": "info"}},
            {
                "id": "fetch_data",
                "action": "api_call",
                "params": {
                    "url": "https://api.example.com/data",
                    "method": "POST",
                    "headers": {"Content-Type": "application/json"},
                },
            },
            {
                "id": "check_status",
                "action": "condition",
                "params": {"condition": "params.value > 100", "on_true": "path_a", "on_false": "path_b"},
            },
            log_step("path_a"),
            log_step("path_b"),
        ]
    }
    result = await bud_client.pipelines.validate(definition)
    assert result.valid and result.errors == []


async def test_validate_reports_paths(bud_client: AsyncBudClient) -> None:
    result = await bud_client.pipelines.validate(
        {"steps": [log_step("a", depends_on=["missing"]), {"id": "b", "action": "nope", "params": {}}]}
    )
    assert not result.valid
    assert {issue.path for issue in result.errors} >= {"steps[0].depends_on[0]", "steps[1].action"}


async def test_create_rejects_a_bad_definition_with_field_paths(bud_client: AsyncBudClient) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        await bud_client.pipelines.create(name="bad", definition={"steps": [log_step("a", depends_on=["x"])]})
    assert caught.value.status_code == 422
    assert caught.value.request_id
    assert any("depends_on" in str(detail.get("path")) for detail in caught.value.details)


async def test_create_needs_name_and_definition(bud_client: AsyncBudClient) -> None:
    with pytest.raises(ValidationError, match="definition"):
        await bud_client.pipelines.create(name="x")
    with pytest.raises(ValidationError, match="name"):
        await bud_client.pipelines.create(definition={"steps": [log_step("a")]})


async def test_list_filter_and_paginate(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    created = [await make_pipeline(log_step("a"), name=f"deploy {i}") for i in range(5)]
    created.append(await make_pipeline(log_step("a"), name="cleanup"))

    pipelines = await bud_client.pipelines.list()
    assert {p.id for p in pipelines} == {p.id for p in created}
    assert pipelines.total == 6
    for pipeline in pipelines:
        assert pipeline.name and pipeline.id

    deploys = await bud_client.pipelines.list(name_contains="deploy")
    assert sorted(p.name for p in deploys) == [f"deploy {i}" for i in range(5)]

    first = await bud_client.pipelines.list(limit=2, offset=0)
    second = await bud_client.pipelines.list(limit=2, offset=2)
    assert len(first) == 2 and len(second) == 2 and first.total == 6
    assert not {p.id for p in first} & {p.id for p in second}

    everything = [p.id async for p in bud_client.pipelines.list(limit=2)]
    assert sorted(everything) == sorted(p.id for p in created)  # three pages, every item once
    pages = [len(page) async for page in bud_client.pipelines.list(limit=4).pages()]
    assert pages == [4, 2]


async def test_get_pipeline_details(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    created = await make_pipeline(*copy.deepcopy(DEPLOY_STEPS), name="Deploy Model")
    pipeline = await bud_client.pipelines.get(created.id)
    assert pipeline.name == "Deploy Model"
    assert pipeline.created_at == created.created_at
    assert len(pipeline.definition["steps"]) == 2
    assert pipeline.status == "active"


async def test_update_definition_and_metadata(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    created = await make_pipeline(log_step("a"), name="Old Name")
    updated = await bud_client.pipelines.update(
        pipeline_id=created.id, definition={"steps": [log_step("a"), log_step("b", depends_on=["a"])]}
    )
    assert updated.step_count == 2 and updated.version == created.version + 1
    assert updated.name == "Old Name"
    renamed = await bud_client.pipelines.update(
        pipeline_id=created.id, name="New Pipeline Name", description="Updated description"
    )
    assert renamed.name == "New Pipeline Name" and renamed.description == "Updated description"
    assert renamed.definition == updated.definition  # PATCH kept the definition
    fetched = await bud_client.pipelines.get(created.id)
    assert fetched.name == "New Pipeline Name" and fetched.version == created.version + 2
    with pytest.raises(ValidationError, match="nothing to update"):
        await bud_client.pipelines.update(created.id)


async def test_replace_resets_unsent_fields(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    created = await bud_client.pipelines.create(
        name="x", definition={"steps": [log_step("a")]}, description="d", tags=["t"]
    )
    replaced = await bud_client.pipelines.replace(created.id, name="y", definition={"steps": [log_step("b")]})
    assert (replaced.name, replaced.description, replaced.tags) == ("y", None, {})


async def test_delete_keeps_executions(bud_client: AsyncBudClient, make_pipeline: PipelineFactory) -> None:
    pipeline = await make_pipeline(log_step("a"))
    execution = await bud_client.executions.create(pipeline.id, wait=True, timeout=30)
    await bud_client.pipelines.delete(pipeline_id=pipeline.id)
    with pytest.raises(NotFoundError) as caught:
        await bud_client.pipelines.get(pipeline.id)
    assert caught.value.status_code == 404 and caught.value.code == "not_found"
    with pytest.raises(NotFoundError):
        await bud_client.pipelines.delete(pipeline.id)
    assert (await bud_client.executions.get(execution.id)).status == "completed"
