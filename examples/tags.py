"""Guide: tags. Label executions, then search by tag (every tag given must match)."""

import asyncio

from budai_async import AsyncBudClient


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(
            name="Tagged", definition={"steps": [{"id": "a", "action": "log", "params": {"message": "hi"}}]}
        )
        execution = await client.executions.create(
            pipeline_id=pipeline.id, tags=["production", "customer-123", "v1.2.0"]
        )
        await client.executions.create(pipeline_id=pipeline.id, tags=["production", "customer-456"])
        print(f"tags: {execution.tags}")

        # Search by tags
        customer_runs = await client.executions.list(tags=["customer-123"])
        print(f"customer-123 runs: {[e.id for e in customer_runs] == [execution.id]}")
        production = await client.executions.list(tags=["production"])
        print(f"production runs: {production.total}")


if __name__ == "__main__":
    asyncio.run(main())
