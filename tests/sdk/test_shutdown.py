"""After ``asyncio.run()`` returns, a client used with ``async with`` leaves no warning behind.

Each script runs in a fresh interpreter with ``-W error`` (every warning, ResourceWarning included,
becomes an error printed to stderr), against the real server of this test.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap

CLEAN = """
import asyncio, gc
from budai_async import AsyncBudClient

async def main() -> None:
    async with AsyncBudClient(max_connections=4) as client:
        pipeline = await client.pipelines.create(
            name="p", definition={"steps": [{"id": "a", "action": "delay", "params": {"seconds": 0.05}}]}
        )
        execution = await client.executions.create(pipeline.id, wait=True, timeout=30)
        await asyncio.gather(*(client.executions.get(execution.id) for _ in range(50)))
        slow = await client.executions.create(pipeline.id)
        calls = [asyncio.create_task(client.executions.wait(slow.id, timeout=30)) for _ in range(20)]
        await asyncio.sleep(0.01)
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        copy = client.with_options(timeout=5)
        await copy.actions.get("log")
    print("done", execution.status)

asyncio.run(main())
gc.collect()
"""

LEAKY = """
import asyncio, gc
from budai_async import AsyncBudClient

async def main() -> AsyncBudClient:
    client = AsyncBudClient()
    await client.actions.get("log")
    return client  # never closed

client = asyncio.run(main())
del client
gc.collect()
print("done")
"""


async def run_script(source: str, base_url: str) -> tuple[int, str, str]:
    env = {**os.environ, "BUDAI_BASE_URL": base_url, "PYTHONWARNINGS": "", "PYTHONDEVMODE": ""}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        "-c",
        textwrap.dedent(source),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_no_warnings_after_asyncio_run(bud_url: str) -> None:
    code, out, err = await run_script(CLEAN, bud_url)
    assert (code, out.strip(), err) == (0, "done completed", "")


async def test_a_leaked_client_is_reported(bud_url: str) -> None:
    _code, out, err = await run_script(LEAKY, bud_url)
    assert out.strip() == "done"
    assert "unclosed AsyncBudClient" in err
