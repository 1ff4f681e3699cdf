"""Guide: Creating Pipelines > Basic Pipeline. Store a two-step deploy pipeline and run it once.

Start a local server (`budai-server --port 8080`) or set BUDAI_BASE_URL, then run
``python examples/create_pipeline.py``.
"""

import asyncio

from budai_async import AsyncBudClient


async def main() -> None:
    async with AsyncBudClient() as client:  # BUDAI_BASE_URL / BUDAI_API_KEY from the environment
        pipeline = await client.pipelines.create(
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
                            "model_id": "{{ steps.add_model.output.model_id }}",
                            "cluster_id": "cluster_prod",
                            "deployment_name": "llama-deployment",
                        },
                        "depends_on": ["add_model"],
                    },
                ]
            },
        )
        print(f"Pipeline created: {pipeline.id}")
        print(f"Steps: {pipeline.step_count}")

        execution = await client.executions.create(pipeline.id, wait=True, timeout=60)
        print(f"Run {execution.id}: {execution.status}, endpoint {execution.outputs['endpoint_url']}")


if __name__ == "__main__":
    asyncio.run(main())
