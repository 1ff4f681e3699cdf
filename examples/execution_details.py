"""Guide: Monitoring Executions > Getting Execution Details."""

import asyncio

from budai_async import AsyncBudClient


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(
            name="Deploy", definition={"steps": [{"id": "a", "action": "delay", "params": {"seconds": 0.1}}]}
        )
        started = await client.executions.create(pipeline.id, wait=True)

        execution = await client.executions.get(started.id)
        print(f"Pipeline: {execution.pipeline_id}")
        print(f"Status: {execution.status}")
        print(f"Started: {execution.started_at}")
        print(f"Completed: {execution.completed_at}")
        print(f"Duration: {execution.duration_seconds}s")


if __name__ == "__main__":
    asyncio.run(main())
