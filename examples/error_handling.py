"""Guide: Error Handling. `TimeoutError` when a wait passes its deadline, `NotFoundError`, and the rest."""

import asyncio

from budai_async import (
    APIConnectionError,
    AsyncBudClient,
    NotFoundError,
    TimeoutError,
    UnprocessableEntityError,
)


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(
            name="Slow", definition={"steps": [{"id": "wait", "action": "delay", "params": {"seconds": 30}}]}
        )

        try:
            execution = await client.executions.create(pipeline_id=pipeline.id, wait=True, timeout=1)
        except TimeoutError as error:
            print("Execution timed out")
            # Check status separately: the execution keeps running on the server
            execution = await client.executions.get(error.execution_id or "")
            print(f"still {execution.status}")
            await client.executions.cancel(execution.id)
        except NotFoundError:
            print("Pipeline not found")

        try:
            await client.executions.create(pipeline_id="pipe_abc123", wait=True, timeout=60)
        except TimeoutError:
            print("Execution timed out")
        except NotFoundError as error:
            print(f"Pipeline not found (HTTP {error.status_code}, request {error.request_id})")

        try:
            await client.pipelines.create(
                name="bad", definition={"steps": [{"id": "a", "action": "log", "params": {"message": 42}}]}
            )
        except UnprocessableEntityError as error:
            print(f"rejected: {[detail['path'] for detail in error.details]}")

    async with AsyncBudClient(base_url="http://127.0.0.1:9", max_retries=1) as offline:
        try:
            await offline.pipelines.list()
        except APIConnectionError:
            print("server unreachable (after retries)")


if __name__ == "__main__":
    asyncio.run(main())
