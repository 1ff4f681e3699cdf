"""Guide: Managing Pipelines > Updating Pipelines. New definition, then metadata only (PATCH)."""

import asyncio

from budai_async import AsyncBudClient


async def main() -> None:
    async with AsyncBudClient() as client:
        pipeline = await client.pipelines.create(
            name="Old Name", definition={"steps": [{"id": "a", "action": "log", "params": {"message": "v1"}}]}
        )

        # Update pipeline definition
        updated = await client.pipelines.update(
            pipeline_id=pipeline.id,
            definition={
                "steps": [
                    {"id": "a", "action": "log", "params": {"message": "v2"}},
                    {"id": "b", "action": "log", "params": {"message": "added"}, "depends_on": ["a"]},
                ]
            },
        )
        print(f"version {updated.version}: {updated.step_count} steps")

        # Update metadata only
        updated = await client.pipelines.update(
            pipeline_id=pipeline.id, name="New Pipeline Name", description="Updated description"
        )
        print(f"version {updated.version}: {updated.name!r} - {updated.description}")


if __name__ == "__main__":
    asyncio.run(main())
