"""Guide: Pipeline Templates. One definition, reused with different params (ephemeral runs)."""

import asyncio

from budai_async import AsyncBudClient

# Create template
template = {
    "steps": [
        {
            "id": "add_model",
            "action": "model_add",
            "params": {"model_uri": "{{ params.model_uri }}", "model_source": "{{ params.model_source }}"},
        },
        {
            "id": "deploy",
            "action": "deployment_create",
            "params": {
                "model_id": "{{ steps.add_model.output.model_id }}",
                "cluster_id": "{{ params.cluster_id }}",
            },
            "depends_on": ["add_model"],
        },
    ]
}


async def main() -> None:
    async with AsyncBudClient() as client:
        # Reuse template with different parameters
        execution1 = await client.executions.run_ephemeral(
            pipeline_definition=template,
            params={
                "model_uri": "meta-llama/Llama-3.2-1B",
                "model_source": "hugging_face",
                "cluster_id": "cluster_prod",
            },
            wait=True,
        )
        execution2 = await client.executions.run_ephemeral(
            pipeline_definition=template,
            params={
                "model_uri": "mistralai/Mistral-7B",
                "model_source": "hugging_face",
                "cluster_id": "cluster_dev",
            },
            wait=True,
        )
        for execution in (execution1, execution2):
            print(f"{execution.params['model_uri']} -> {execution.outputs['cluster_id']}: {execution.status}")


if __name__ == "__main__":
    asyncio.run(main())
