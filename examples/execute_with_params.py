"""Guide: Executing Pipelines > With Parameters. Params fill `{{ params.* }}` placeholders."""

import asyncio

from budai_async import AsyncBudClient

DEFINITION = {
    "parameters": {
        "cluster_id": {"type": "string", "required": True},
        "model_id": {"type": "string"},
        "replicas": {"type": "integer", "default": 1},
        "environment": {"type": "string", "default": "staging"},
    },
    "steps": [
        {
            "id": "plan",
            "action": "set_output",
            "params": {
                "values": {
                    "target": "{{ params.cluster_id }}",
                    "replicas": "{{ params.replicas }}",
                    "summary": "{{ params.model_id }} x{{ params.replicas }} in {{ params.environment }}",
                }
            },
        }
    ],
}


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(name="Parameterised", definition=DEFINITION)
        execution = await client.executions.create(
            pipeline_id=pipeline.id,
            params={
                "cluster_id": "cluster_prod",
                "model_id": "model_xyz789",
                "replicas": 3,
                "environment": "production",
            },
            wait=True,
        )
        print(f"params: {execution.params}")
        print(f"outputs: {execution.outputs}")  # replicas stays a number: a lone placeholder keeps its type


if __name__ == "__main__":
    asyncio.run(main())
