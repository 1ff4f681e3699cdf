"""Guide: Managing Pipelines > Getting Pipeline Details."""

import asyncio

from budai_async import AsyncBudClient


async def main() -> None:
    async with AsyncBudClient() as client:
        created = await client.pipelines.create(
            name="Deploy Model",
            definition={
                "steps": [
                    {"id": "add_model", "action": "model_add", "params": {"model_uri": "org/model"}},
                    {
                        "id": "announce",
                        "action": "log",
                        "params": {"message": "{{ steps.add_model.output.model_id }}"},
                    },
                ]
            },
        )

        pipeline = await client.pipelines.get(created.id)
        print(f"Name: {pipeline.name}")
        print(f"Created: {pipeline.created_at}")
        print(f"Steps: {len(pipeline.definition['steps'])}")
        print(f"Status: {pipeline.status}")


if __name__ == "__main__":
    asyncio.run(main())
