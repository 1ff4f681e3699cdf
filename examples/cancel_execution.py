"""Guide: Managing Executions > Cancelling Executions."""

import asyncio

from budai_async import AsyncBudClient, ConflictError


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(
            name="Long", definition={"steps": [{"id": "wait", "action": "delay", "params": {"seconds": 60}}]}
        )
        execution = await client.executions.create(pipeline.id)

        # Cancel running execution
        await client.executions.cancel(execution_id=execution.id)

        # Verify cancellation
        execution = await client.executions.get(execution.id)
        print(execution.status)  # "cancelled"

        try:
            await client.executions.cancel(execution_id=execution.id)
        except ConflictError as error:
            print(f"second cancel refused: {error}")


if __name__ == "__main__":
    asyncio.run(main())
