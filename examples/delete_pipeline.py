"""Guide: Managing Pipelines > Deleting Pipelines. Its executions (and what they created) remain."""

import asyncio

from budai_async import AsyncBudClient, NotFoundError


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(
            name="short-lived",
            definition={"steps": [{"id": "a", "action": "log", "params": {"message": "hi"}}]},
        )
        execution = await client.executions.create(pipeline.id, wait=True, timeout=60)

        await client.pipelines.delete(pipeline_id=pipeline.id)
        print(f"deleted {pipeline.id}")

        try:
            await client.pipelines.get(pipeline.id)
        except NotFoundError as error:
            print(f"pipeline gone: {error}")
        kept = await client.executions.get(execution.id)
        print(f"execution {kept.id} still there: {kept.status}")


if __name__ == "__main__":
    asyncio.run(main())
