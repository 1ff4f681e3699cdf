"""Guide: Executing Pipelines > Asynchronous Execution. Start now, check later."""

import asyncio

from budai_async import AsyncBudClient


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(
            name="Slow", definition={"steps": [{"id": "wait", "action": "delay", "params": {"seconds": 0.5}}]}
        )

        # Start execution without waiting
        execution = await client.executions.create(pipeline_id=pipeline.id, wait=False)
        print(f"Execution started: {execution.id}")

        # Check status later
        execution = await client.executions.get(execution.id)
        print(f"Status: {execution.status}")

        # ... or wait for it when you need the result
        execution = await client.executions.wait(execution.id, timeout=60)
        print(f"Final status: {execution.status}")


if __name__ == "__main__":
    asyncio.run(main())
