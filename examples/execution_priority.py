"""Guide: Executing Pipelines > Execution Priority. `high` is admitted first when the server is busy."""

import asyncio

from budai_async import AsyncBudClient

WORK = {"steps": [{"id": "work", "action": "delay", "params": {"seconds": 0.1}}]}


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(name="Deploy", definition=WORK)
        batch_pipeline = await client.pipelines.create(name="Batch process", definition=WORK)

        # High priority - runs first
        urgent = await client.executions.create(pipeline_id=pipeline.id, priority="high")

        # Low priority - runs when resources are available
        background = await client.executions.create(pipeline_id=batch_pipeline.id, priority="low")

        print(f"urgent: {urgent.id} priority={urgent.priority}")
        print(f"background: {background.id} priority={background.priority}")
        for done in await asyncio.gather(
            *(client.executions.wait(e.id, timeout=60) for e in (urgent, background))
        ):
            print(f"{done.priority}: {done.status}")


if __name__ == "__main__":
    asyncio.run(main())
