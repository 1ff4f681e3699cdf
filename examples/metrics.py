"""Guide: Execution Metrics. Duration, step counts, CPU and memory; a success rate from history."""

import asyncio

from budai_async import AsyncBudClient

DEFINITION = {
    "steps": [
        {"id": "work", "action": "delay", "params": {"seconds": 0.05}},
        {"id": "maybe_fail", "action": "fail", "params": {"message": "flaky"}, "condition": "params.fail"},
    ]
}


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(name="Flaky", definition=DEFINITION)
        for fail in (False, True, False, False):
            last = await client.executions.create(pipeline.id, params={"fail": fail}, wait=True)

        execution = await client.executions.get(last.id)

        # Performance metrics
        print(f"Duration: {execution.duration_seconds}s")
        print(f"Steps completed: {execution.completed_steps}/{execution.total_steps}")

        # Resource usage
        print(f"CPU time: {execution.cpu_seconds}s")
        print(f"Memory peak: {execution.peak_memory_mb}MB")

        # Calculate success rate
        history = await client.executions.list(
            pipeline_id=pipeline.id, limit=10, sort_by="created_at", sort_order="desc"
        )
        total = len(history)
        successful = len([e for e in history if e.status == "completed"])
        success_rate = (successful / total) * 100
        print(f"Success rate: {success_rate:.1f}%")


if __name__ == "__main__":
    asyncio.run(main())
