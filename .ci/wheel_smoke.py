"""Run inside a fresh venv holding only the built wheel (no extras): import and use the SDK.

Usage: python wheel_smoke.py BASE_URL. Builds a pipeline with the DSL, validates it offline, creates
it on the server at BASE_URL, runs it to the end, and checks that no extra's module came along.
"""

import asyncio
import importlib.util
import sys

from budai_async import AsyncBudClient, PipelineBuilder, __version__, actions


async def main(base_url: str) -> None:
    for module in ("click", "rich", "yaml", "aiosqlite", "jinja2", "platformdirs", "redis"):
        assert importlib.util.find_spec(module) is None, f"{module} came with the base install"
    pipe = PipelineBuilder("wheel smoke")
    pipe.step("log", actions.log(message="hello from the wheel"))
    pipe.validate()
    async with AsyncBudClient(base_url=base_url) as client:
        pipeline = await client.pipelines.create(definition=pipe)
        execution = await client.executions.create(pipeline.id, wait=True, timeout=60)
        assert execution.status == "completed", execution
    print(f"budai-async {__version__}: wheel SDK ran pipeline {pipeline.id} -> {execution.status}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
