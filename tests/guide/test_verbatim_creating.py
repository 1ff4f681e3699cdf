"""Guide: Creating Pipelines and Actions in Pipelines, run as written with `BudClient`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from guide_support import API_KEY, printed
from threaded_server import ServerThread

from budai_async import BudClient


def test_basic_pipeline(guide_server: ServerThread, capsys: pytest.CaptureFixture[str]) -> None:
    from budai_async import BudClient

    client = BudClient(api_key=API_KEY, base_url=guide_server.url)  # guide: api_key="your-key"
    pipeline = client.pipelines.create(
        name="Deploy Model",
        description="Automated model deployment workflow",
        definition={
            "steps": [
                {
                    "id": "add_model",
                    "action": "model_add",
                    "params": {
                        "model_uri": "meta-llama/Llama-3.2-1B-Instruct",
                        "model_source": "hugging_face",
                    },
                },
                {
                    "id": "deploy",
                    "action": "deployment_create",
                    "params": {
                        "model_id": " {{ steps.add_model.output.model_id }} ",
                        "cluster_id": "cluster_prod",
                        "deployment_name": "llama-deployment",
                    },
                    "depends_on": ["add_model"],
                },
            ]
        },
    )
    print(f"Pipeline created: {pipeline.id}")

    assert re.fullmatch(r"Pipeline created: pipe_\w+", printed(capsys)[0])
    stored = client.pipelines.get(pipeline.id)
    assert (stored.name, stored.description, stored.step_count) == (
        "Deploy Model",
        "Automated model deployment workflow",
        2,
    )
    run = client.executions.create(pipeline.id, wait=True, timeout=60)
    assert run.status == "completed", run.error
    assert run.steps["deploy"].output["cluster_id"] == "cluster_prod"
    client.close()


def resilient_deployment(client: BudClient) -> Any:
    """The guide's "With Error Handling" block; its ``"params": { ... }`` filled with a real deploy."""
    pipeline = client.pipelines.create(
        name="Resilient Deployment",
        definition={
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
                    "params": {"model_id": "model_xyz", "cluster_id": "cluster_prod"},  # guide: { ... }
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
        },
    )
    return pipeline


def test_with_error_handling_on_a_healthy_cluster(client: BudClient) -> None:
    pipeline = resilient_deployment(client)

    assert pipeline.name == "Resilient Deployment" and pipeline.step_count == 3
    execution = client.executions.create(pipeline.id, wait=True, timeout=60)
    assert execution.status == "completed"
    assert execution.steps["health_check"].output["status"] == "healthy"
    assert execution.steps["deploy"].output["cluster_id"] == "cluster_prod"
    assert execution.steps["notify_failure"].status == "skipped"


@pytest.mark.unhealthy("cluster_prod")
def test_with_error_handling_on_an_unhealthy_cluster_fails_and_notifies(client: BudClient) -> None:
    pipeline = resilient_deployment(client)

    execution = client.executions.create(pipeline.id, wait=True, timeout=120)
    # issue 11 item 4: the health check fails (retried 3 times), deploy is skipped upstream_failed,
    # which the condition reads as 'failed', so notify_failure runs and the run ends failed
    assert execution.status == "failed"
    assert execution.steps["health_check"].attempts == 3
    assert execution.steps["deploy"].status == "skipped"
    assert execution.steps["notify_failure"].status == "completed"


def test_common_action_types(
    client: BudClient, example_api: tuple[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    api_url, api_calls = example_api
    steps = [
        # Log action
        {"id": "logger", "action": "log", "params": {"message": "Processing started", "level": "info"}},
        # API call action
        {
            "id": "fetch_data",
            "action": "api_call",
            "params": {
                "url": f"{api_url}/data",  # guide: https://api.example.com/data
                "method": "POST",
                "headers": {"Content-Type": "application/json"},
            },
        },
        # Conditional branching
        {
            "id": "check_status",
            "action": "condition",
            "params": {"condition": "value > 100", "on_true": "path_a", "on_false": "path_b"},
        },
    ]
    # the branches the condition names, so the three run together
    branches = [
        {"id": "path_a", "action": "log", "params": {"message": "above 100"}},
        {"id": "path_b", "action": "log", "params": {"message": "at most 100"}},
    ]
    definition = {"steps": [*steps, *branches]}
    assert client.pipelines.validate(definition).valid
    execution = client.executions.run_ephemeral(definition, params={"value": 150}, wait=True, timeout=60)
    assert execution.status == "completed", execution.error
    assert execution.steps["logger"].output["message"] == "Processing started"
    assert api_calls == [{"method": "POST", "content_type": "application/json"}]
    assert execution.steps["check_status"].output["branch"] == "on_true"
    assert (execution.steps["path_a"].status, execution.steps["path_b"].status) == ("completed", "skipped")
    types = {action.type for action in client.actions.list()}
    assert {"log", "api_call", "condition"} <= types
