"""The user guide's pipelines (spec/pipelines-sdk-guide.txt), shared by the engine's test suites.

The guide writes placeholders with spaces around them (``" {{ ... }} "``); they are kept, since a value
that is exactly one placeholder must keep its JSON type either way.
"""

from __future__ import annotations

from typing import Any

DEPLOY_MODEL: dict[str, Any] = {
    "steps": [
        {
            "id": "add_model",
            "action": "model_add",
            "params": {"model_uri": "meta-llama/Llama-3.2-1B-Instruct", "model_source": "hugging_face"},
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
}

TEMPLATE: dict[str, Any] = {
    "steps": [
        {
            "id": "add_model",
            "action": "model_add",
            "params": {
                "model_uri": " {{ params.model_uri }} ",
                "model_source": " {{ params.model_source }} ",
            },
        },
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {
                "model_id": " {{ steps.add_model.output.model_id }} ",
                "cluster_id": " {{ params.cluster_id }} ",
            },
            "depends_on": ["add_model"],
        },
    ]
}


def resilient(initial_delay_seconds: float = 0.01) -> dict[str, Any]:
    """The guide's "Resilient Deployment"; its ``"params": {...}`` of `deploy` read `model_id` and
    `cluster_id` from the execution's params here, and the retry waits are shortened for tests."""
    return {
        "steps": [
            {
                "id": "health_check",
                "action": "cluster_health",
                "params": {"cluster_id": "{{ params.cluster_id }}"},
                "retry": {
                    "max_attempts": 3,
                    "backoff_multiplier": 2,
                    "initial_delay_seconds": initial_delay_seconds,
                },
            },
            {
                "id": "deploy",
                "action": "deployment_create",
                "params": {"model_id": "{{ params.model_id }}", "cluster_id": "{{ params.cluster_id }}"},
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
