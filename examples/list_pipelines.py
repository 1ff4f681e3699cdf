"""Guide: Managing Pipelines > Listing Pipelines. One page, a name filter, pagination, every item."""

import asyncio

from budai_async import AsyncBudClient

LOG_ONLY = {"steps": [{"id": "hello", "action": "log", "params": {"message": "hi"}}]}


async def main() -> None:
    async with AsyncBudClient() as client:
        for name in ("deploy llama", "deploy mistral", "nightly cleanup"):
            await client.pipelines.create(name=name, definition=LOG_ONLY)

        # Get all pipelines (one page; `await` it)
        pipelines = await client.pipelines.list()
        for pipeline in pipelines:
            print(f"{pipeline.id}: {pipeline.name}")
        print(f"total: {pipelines.total}")

        # Filter by name
        pipelines = await client.pipelines.list(name_contains="deploy")
        print(f"matching 'deploy': {sorted(p.name for p in pipelines)}")

        # Pagination
        first_page = await client.pipelines.list(limit=2, offset=0)
        print(f"page of {len(first_page)} (of {first_page.total})")

        # Or let the SDK page for you: `async for` walks every page
        names = [pipeline.name async for pipeline in client.pipelines.list(limit=2)]
        print(f"walked {len(names)} pipelines")


if __name__ == "__main__":
    asyncio.run(main())
