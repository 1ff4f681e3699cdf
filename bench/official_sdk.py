"""Official-SDK benchmark (not a test): our `AsyncBudClient` and the official `bud.AsyncBudClient`
side by side on the same server in one run, N concurrent `executions.get` of one stored execution.

The local server runs in its own process (``python -m budai_server`` on a fresh SQLite file), so the
CPU time measured here (`time.process_time` of this process) is the clients' alone. For each
concurrency and each client, `--requests` GETs are spread over that many tasks after a warm-up:

- ``budai_async``: ``await client.executions.get(id)`` -> our typed `Execution` (aiohttp, cattrs);
- ``bud (official)``: ``await client.executions.get(id)`` -> its pydantic `Execution` (httpx).

Both parse the same answer into a model. Our client gets `--connections` connections; the official
client has no pool option and uses httpx's default limits (100 connections, 20 kept alive). Needs the
official SDK installed (``pip install ../shared/vendor/bud_sdk-0.1.0-py3-none-any.whl``; it is a
test/bench peer, never imported by the project). Figures go to docs/benchmarks.md.

    .venv/bin/python bench/official_sdk.py [--requests 5000] [--concurrency 1,64,512] [--connections 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from sdk import measure, prepare, start_server  # bench/sdk.py: the same server start and loop

from budai_async import AsyncBudClient


async def run_ours(url: str, execution_id: str, requests: int, concurrency: int, connections: int) -> Any:
    async with AsyncBudClient(base_url=url, max_connections=connections, max_retries=0) as client:

        async def call() -> Any:
            execution = await client.executions.get(execution_id)
            assert execution.status == "completed"
            return execution

        await measure(call, min(requests, 1000), concurrency)  # warm-up: open the pool
        return await measure(call, requests, concurrency)


async def run_official(url: str, execution_id: str, requests: int, concurrency: int) -> Any:
    import bud

    async with bud.AsyncBudClient(api_key="bench", base_url=url, max_retries=0, timeout=120) as client:

        async def call() -> Any:
            execution = await client.executions.get(execution_id)
            assert execution.status == "completed"
            return execution

        await measure(call, min(requests, 1000), concurrency)
        return await measure(call, requests, concurrency)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--concurrency", default="1,64,512")
    parser.add_argument("--connections", type=int, default=100)
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    try:
        import bud
    except ImportError:
        sys.exit(
            "the official SDK is not installed: pip install ../shared/vendor/bud_sdk-0.1.0-py3-none-any.whl"
        )

    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"bud {bud.__version__}, load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_server(Path(tmp) / "bench.db")
        try:
            execution_id = await prepare(url)
            print(f"server: {url} (separate process), {args.requests} requests per row")
            header = f"{'concurrency':>11} | {'client':<14} | {'req/s':>8} | {'client CPU µs/req':>17}"
            print(f"{header} | vs official")
            for level in levels:
                ours = await run_ours(url, execution_id, args.requests, level, args.connections)
                theirs = await run_official(url, execution_id, args.requests, level)
                for name, (rps, cpu) in (("budai_async", ours), ("bud (official)", theirs)):
                    ratio = f"{rps / theirs[0]:.2f}x" if name == "budai_async" else ""
                    print(f"{level:>11} | {name:<14} | {rps:>8.0f} | {cpu:>17.0f} | {ratio}")
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
