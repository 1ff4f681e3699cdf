"""Guide: Monitoring Executions > Polling for Completion (the guide's loop, with asyncio.sleep).

`await client.executions.wait(id)` does the same with one long-poll instead of a request per tick.
"""

import asyncio

from budai_async import AsyncBudClient

STEPS = {
    "steps": [
        {"id": "one", "action": "delay", "params": {"seconds": 0.3}},
        {"id": "two", "action": "delay", "params": {"seconds": 0.3}, "depends_on": ["one"]},
    ]
}


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(name="Two steps", definition=STEPS)
        execution = await client.executions.create(pipeline_id=pipeline.id, wait=False)

        while execution.status in ["pending", "running"]:
            await asyncio.sleep(0.2)
            execution = await client.executions.get(execution.id)
            print(f"Status: {execution.status} ({execution.progress:.0f}%)")

        print(f"Final status: {execution.status}")


if __name__ == "__main__":
    asyncio.run(main())
