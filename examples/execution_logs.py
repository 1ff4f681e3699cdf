"""Guide: Execution Logs. All lines, filtered lines (level, step, time range), and a live stream."""

import asyncio

from budai_async import AsyncBudClient

DEFINITION = {
    "steps": [
        {"id": "start", "action": "log", "params": {"message": "Processing started"}},
        {"id": "wait", "action": "delay", "params": {"seconds": 0.2}, "depends_on": ["start"]},
        {
            "id": "deploy",
            "action": "log",
            "params": {"message": "cluster unreachable, using backup", "level": "error"},
            "depends_on": ["wait"],
        },
    ]
}


def alert_team(message: str) -> None:
    print(f"ALERT: {message}")


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(name="Logged", definition=DEFINITION)

        # Streaming logs in real time while it runs (stop at the first error here)
        execution = await client.executions.create(pipeline.id)
        async with client.executions.logs(execution_id=execution.id, follow=True) as stream:
            async for log in stream:
                print(f"live: {log.message}")
                if log.level == "error":
                    alert_team(log.message)  # handle errors immediately
                    break
        await client.executions.wait(execution.id, timeout=60)

        # Get all logs
        logs = await client.executions.logs(execution_id=execution.id)
        for log in logs:
            print(f"[{log.timestamp}] [{log.level}] {log.message}")

        # Only errors
        error_logs = await client.executions.logs(execution_id=execution.id, level="error")
        print(f"errors: {[log.message for log in error_logs]}")

        # Specific step
        step_logs = await client.executions.logs(execution_id=execution.id, step_id="deploy")
        print(f"deploy step: {len(step_logs)} line(s)")

        # Time range
        recent_logs = await client.executions.logs(execution_id=execution.id, since="5m")  # last 5 minutes
        print(f"last 5 minutes: {len(recent_logs)} line(s)")


if __name__ == "__main__":
    asyncio.run(main())
