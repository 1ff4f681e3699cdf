"""Guide: Best Practices > "Clean up: Delete old executions to save storage".

One execution is deleted by id, then the failed ones and everything older than a cutoff go in bulk;
each takes its logs and callback deliveries with it. Running executions are never deleted.
"""

import asyncio
from datetime import UTC, datetime, timedelta

from budai_async import AsyncBudClient, ConflictError


async def main() -> None:
    async with AsyncBudClient() as client:
        ok = await client.pipelines.create(
            name="nightly", definition={"steps": [{"id": "a", "action": "log", "params": {"message": "hi"}}]}
        )
        broken = await client.pipelines.create(
            name="flaky", definition={"steps": [{"id": "a", "action": "fail", "params": {"message": "no"}}]}
        )
        slow = await client.pipelines.create(
            name="slow", definition={"steps": [{"id": "a", "action": "delay", "params": {"seconds": 30}}]}
        )
        done = [await client.executions.create(ok.id, wait=True, tags=["nightly"]) for _ in range(3)]
        for _ in range(2):
            await client.executions.create(broken.id, wait=True)
        running = await client.executions.create(slow.id)

        await client.executions.delete(done[0].id)
        print(f"deleted {done[0].id}")
        try:
            await client.executions.delete(running.id)
        except ConflictError as error:
            print(f"not while running: {error.code}")

        failed = await client.executions.delete_many(status="failed", dry_run=True)
        print(f"failed executions that would go: {failed}")
        print(f"deleted failed: {await client.executions.delete_many(status='failed')}")
        cutoff = datetime.now(UTC) + timedelta(minutes=1)  # in real use: now - 30 days
        print(f"deleted older than the cutoff: {await client.executions.delete_many(created_before=cutoff)}")
        left = [str(e.status) for e in await client.executions.list()]
        print(f"left: {left}")
        await client.executions.cancel(running.id)


if __name__ == "__main__":
    asyncio.run(main())
