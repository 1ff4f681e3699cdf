"""Guide: Execution Outputs. Pipeline-level outputs, then every step's status, output and duration."""

import asyncio

from budai_async import AsyncBudClient

DEFINITION = {
    "steps": [
        {
            "id": "add_model",
            "action": "model_add",
            "params": {"model_uri": "meta-llama/Llama-3.2-1B-Instruct"},
        },
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {"model_id": "{{ steps.add_model.output.model_id }}", "cluster_id": "cluster_prod"},
        },
    ],
    "outputs": {
        "deployment_id": "{{ steps.deploy.output.deployment_id }}",
        "endpoint_url": "{{ steps.deploy.output.endpoint_url }}",
        "status": "success",
    },
}


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(name="Deploy", definition=DEFINITION)
        done = await client.executions.create(pipeline.id, wait=True)
        execution = await client.executions.get(done.id)

        # Access pipeline-level outputs
        print(execution.outputs)

        # Access a specific output
        deployment_id = execution.outputs.get("deployment_id")
        print(f"deployment_id: {deployment_id}")

        # Access individual step outputs
        for step_id, step in execution.steps.items():
            print(f"{step_id}:")
            print(f"  Status: {step.status}")
            print(f"  Output: {step.output}")
            print(f"  Duration: {step.duration_seconds}s")


if __name__ == "__main__":
    asyncio.run(main())
