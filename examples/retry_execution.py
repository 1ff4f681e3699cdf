"""Guide: Managing Executions > Retrying Failed Executions. Same params, or different ones."""

import asyncio

from budai_async import AsyncBudClient

DEFINITION = {
    "steps": [
        # cluster_health fails unless the cluster is healthy, so deploy only runs on a good cluster
        {"id": "check", "action": "cluster_health", "params": {"cluster_id": "{{ params.cluster_id }}"}},
        {
            "id": "deploy",
            "action": "log",
            "params": {"message": "deploying to {{ params.cluster_id }}"},
            "depends_on": ["check"],
        },
    ]
}


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(name="Deploy with fallback", definition=DEFINITION)
        first = await client.executions.create(
            pipeline.id, params={"cluster_id": "cluster_unknown"}, wait=True
        )
        print(f"first run: {first.status} ({first.error})")

        # Retry with same parameters
        new_execution = await client.executions.retry(execution_id=first.id)
        print(f"retry of {new_execution.retry_of} with {new_execution.params}")

        # Retry with different parameters
        new_execution = await client.executions.retry(
            execution_id=first.id,
            params={"cluster_id": "cluster_prod"},  # try a different cluster
        )
        done = await client.executions.wait(new_execution.id, timeout=60)
        print(f"retry on cluster_prod: {done.status}")


if __name__ == "__main__":
    asyncio.run(main())
