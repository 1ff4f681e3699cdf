"""Guide: Creating Pipelines > With Error Handling: step retries, a health gate, a failure branch.

The first run deploys a model that does not exist, so `deploy` fails and `notify_failure` runs;
the second adds the model first, so the failure branch is skipped.
"""

import asyncio
from typing import Any

from budai_async import AsyncBudClient


def definition(model_step: bool) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [
        {
            "id": "health_check",
            "action": "cluster_health",
            "params": {"cluster_id": "cluster_prod"},
            "retry": {"max_attempts": 3, "backoff_multiplier": 2},
        },
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {
                "model_id": "{{ steps.add_model.output.model_id }}" if model_step else "model_missing",
                "cluster_id": "cluster_prod",
            },
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
    if model_step:
        steps.insert(0, {"id": "add_model", "action": "model_add", "params": {"model_uri": "org/model"}})
    return {"steps": steps}


async def main() -> None:
    async with AsyncBudClient() as client:
        for name, with_model in (("Resilient Deployment (broken)", False), ("Resilient Deployment", True)):
            pipeline = await client.pipelines.create(name=name, definition=definition(with_model))
            execution = await client.executions.create(pipeline.id, wait=True, timeout=60)
            print(f"{name}: {execution.status}")
            for step_id, step in execution.steps.items():
                print(f"  {step_id}: {step.status} {step.skip_reason or step.error or ''}".rstrip())


if __name__ == "__main__":
    asyncio.run(main())
