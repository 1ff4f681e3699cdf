"""Guide: Monitoring Executions > Listing Executions. Filters by pipeline, status, date and tags."""

import asyncio
from datetime import UTC, datetime, timedelta

from budai_async import AsyncBudClient


async def main() -> None:
    async with AsyncBudClient() as client:
        ok = await client.pipelines.create(
            name="ok", definition={"steps": [{"id": "a", "action": "log", "params": {"message": "fine"}}]}
        )
        broken = await client.pipelines.create(
            name="broken",
            definition={"steps": [{"id": "a", "action": "fail", "params": {"message": "boom"}}]},
        )
        for pipeline in (ok, ok, broken):
            await client.executions.create(pipeline.id, wait=True)

        # Get all executions (one page)
        executions = await client.executions.list()
        print(f"all: {len(executions)} of {executions.total}")

        # Filter by pipeline
        pipeline_runs = await client.executions.list(pipeline_id=ok.id)
        print(f"runs of {ok.name}: {len(pipeline_runs)}")

        # Filter by status
        failed = await client.executions.list(status="failed")
        print(f"failed: {[e.error for e in failed]}")

        # Filter by date: a string, a date or a datetime
        recent = await client.executions.list(created_after="2024-01-01")
        last_hour = await client.executions.list(created_after=datetime.now(UTC) - timedelta(hours=1))
        print(f"since 2024: {len(recent)}, last hour: {len(last_hour)}")

        # Every execution, however many pages: iterate instead of awaiting
        statuses = [e.status async for e in client.executions.list(limit=2)]
        print(f"walked: {sorted(str(s) for s in statuses)}")


if __name__ == "__main__":
    asyncio.run(main())
