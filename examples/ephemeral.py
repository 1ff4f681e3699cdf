"""Guide: Ephemeral Pipelines. Run a definition once without storing a pipeline."""

import asyncio

from budai_async import AsyncBudClient


async def main() -> None:
    async with AsyncBudClient() as client:
        model = await client.executions.run_ephemeral(
            pipeline_definition={
                "steps": [{"id": "add", "action": "model_add", "params": {"model_uri": "org/model-xyz"}}]
            },
            wait=True,
        )
        model_id = model.outputs["model_id"]

        # One-time execution
        execution = await client.executions.run_ephemeral(
            pipeline_definition={
                "steps": [
                    {
                        "id": "quick_deploy",
                        "action": "deployment_create",
                        "params": {"model_id": model_id, "cluster_id": "cluster_prod"},
                    }
                ]
            },
            wait=True,
        )
        print(f"{execution.id}: {execution.status}, pipeline_id={execution.pipeline_id}")
        print(f"endpoint: {execution.outputs['endpoint_url']}")


if __name__ == "__main__":
    asyncio.run(main())
