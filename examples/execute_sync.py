"""Guide: Executing Pipelines > Synchronous Execution. Start and wait for the end (server long-poll)."""

import asyncio

from budai_async import AsyncBudClient

DEPLOY = {
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
    ]
}


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(name="Deploy Model", definition=DEPLOY)

        # Execute and wait for completion
        execution = await client.executions.create(pipeline_id=pipeline.id, wait=True)

        if execution.status == "completed":
            print(f"Success! Output: {execution.outputs}")
        else:
            print(f"Failed: {execution.error}")


if __name__ == "__main__":
    asyncio.run(main())
