"""Guide: Batch Executions, async. Start every run at once, then poll them together.

For thousands of runs use `client.executions.create_many(...)` (one request per 500 runs, one
websocket to await them; see docs/batch.md).
"""

import asyncio

from budai_async import AsyncBudClient

DEFINITION = {
    "steps": [
        {
            "id": "deploy",
            "action": "set_output",
            "params": {"values": {"cluster": "{{ params.cluster_id }}", "model": "{{ params.model_id }}"}},
        },
        {"id": "settle", "action": "delay", "params": {"seconds": 0.2}, "depends_on": ["deploy"]},
    ]
}


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline_id = (await client.pipelines.create(name="Batch deploy", definition=DEFINITION)).id
        param_sets = [
            {"cluster_id": "cluster_1", "model_id": "model_1"},
            {"cluster_id": "cluster_2", "model_id": "model_2"},
            {"cluster_id": "cluster_3", "model_id": "model_3"},
        ]

        executions = await asyncio.gather(
            *(
                client.executions.create(pipeline_id=pipeline_id, params=params, wait=False)
                for params in param_sets
            )
        )

        # Wait for all to complete
        while any(e.status in ["pending", "running"] for e in executions):
            await asyncio.sleep(0.2)
            executions = await asyncio.gather(*(client.executions.get(e.id) for e in executions))

        # Check results
        for execution in executions:
            print(f"{execution.id}: {execution.status} {execution.steps['deploy'].output}")


if __name__ == "__main__":
    asyncio.run(main())
