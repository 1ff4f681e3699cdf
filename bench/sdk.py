"""SDK benchmark (not a test): `executions.get` throughput and client CPU per request, vs httpx.

The local server runs in its own process (``python -m budai_server`` on a fresh SQLite file), so
the CPU time measured here (`time.process_time` of this process) is the client's alone. For each
concurrency (1, 64, 512) and each client, `--requests` GETs of one stored execution are spread over
that many tasks after a warm-up; both clients get the same connection limit (`--connections`).

- ``budai_async``: ``await client.executions.get(id)`` -> a typed `Execution` (HTTP, JSON, model);
- ``httpx``: ``(await client.get(path)).json()`` on an ``httpx.AsyncClient`` (HTTP and JSON only);
- ``BudClient`` (concurrency 1 only): ``client.executions.get(id)`` on the blocking client, called
  from a plain thread, in blocks alternating with blocks of ``AsyncBudClient`` calls; its CPU
  includes its private loop thread (process time counts every thread).

Usage (figures go to docs/sdk.md, "Benchmarks"):

    .venv/bin/python bench/sdk.py [--requests 20000] [--concurrency 1,64,512] [--connections 100]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from budai_async import AsyncBudClient, BudClient

STEPS = {"steps": [{"id": "out", "action": "set_output", "params": {"values": {"ok": True}}}]}


def start_server(db: Path) -> tuple[subprocess.Popen[str], str]:
    """Start `python -m budai_server` on a free port; return the process and its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "budai_server", "--db", str(db), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # other start-up lines (e.g. the webhook secret) come first
        if "listening on" in line:
            return process, line.rsplit(" ", 1)[-1].strip()
    process.kill()
    raise RuntimeError("the server exited before it was listening")


async def measure(call: Callable[[], Awaitable[Any]], requests: int, concurrency: int) -> tuple[float, float]:
    """Run `requests` calls over `concurrency` tasks; return (requests/s, client CPU µs per request)."""
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return requests / wall, cpu / requests * 1e6


async def run_budai(
    url: str, execution_id: str, requests: int, concurrency: int, connections: int
) -> tuple[float, float]:
    async with AsyncBudClient(base_url=url, max_connections=connections) as client:

        async def call() -> Any:
            return await client.executions.get(execution_id)

        await measure(call, min(requests, 2000), concurrency)  # warm-up: open the pool
        return await measure(call, requests, concurrency)


async def run_httpx(
    url: str, execution_id: str, requests: int, concurrency: int, connections: int
) -> tuple[float, float]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:
        path = f"/budpipeline/executions/{execution_id}"

        async def call() -> Any:
            response = await client.get(path)
            response.raise_for_status()
            return response.json()

        await measure(call, min(requests, 2000), concurrency)
        return await measure(call, requests, concurrency)


def measure_sync(client: BudClient, execution_id: str, count: int) -> tuple[float, float]:
    """`count` blocking calls from this (loop-free) thread; (requests/s, client CPU µs per request)."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        client.executions.get(execution_id)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return count / wall, cpu / count * 1e6


async def compare_sync(url: str, execution_id: str, requests: int, rounds: int) -> list[tuple[float, float]]:
    """Concurrency 1, `rounds` alternations of async and sync blocks; (async CPU, sync CPU) per round.

    Alternating in one run keeps both clients under the same machine load (a shared machine's load
    moves by more than the difference measured here).
    """
    per_round = max(requests // rounds, 1)
    results: list[tuple[float, float]] = []
    with BudClient(base_url=url) as sync_client:
        async with AsyncBudClient(base_url=url) as async_client:

            async def call() -> Any:
                return await async_client.executions.get(execution_id)

            await measure(call, min(per_round, 500), 1)  # warm-up both pools
            await asyncio.to_thread(measure_sync, sync_client, execution_id, min(per_round, 500))
            for _ in range(rounds):
                _rps, async_cpu = await measure(call, per_round, 1)
                _rps, sync_cpu = await asyncio.to_thread(measure_sync, sync_client, execution_id, per_round)
                results.append((async_cpu, sync_cpu))
    return results


async def prepare(url: str) -> str:
    async with AsyncBudClient(base_url=url) as client:
        pipeline = await client.pipelines.create(name="bench", definition=STEPS)
        execution = await client.executions.create(pipeline.id, wait=True, timeout=60)
        return execution.id


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", default="1,64,512")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--sync-rounds", type=int, default=5, help="0 skips the BudClient comparison")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]

    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_server(Path(tmp) / "bench.db")
        try:
            execution_id = await prepare(url)
            print(
                f"server: {url} (separate process), {args.requests} requests per row, "
                f"{args.connections} connections max"
            )
            print(
                f"{'concurrency':>11} | {'client':<12} | {'req/s':>8} | {'client CPU µs/req':>17} | vs httpx"
            )
            for level in levels:
                ours = await run_budai(url, execution_id, args.requests, level, args.connections)
                theirs = await run_httpx(url, execution_id, args.requests, level, args.connections)
                for name, (rps, cpu) in (("budai_async", ours), ("httpx", theirs)):
                    ratio = f"{rps / theirs[0]:.2f}x" if name == "budai_async" else ""
                    print(f"{level:>11} | {name:<12} | {rps:>8.0f} | {cpu:>17.0f} | {ratio}")
            if 1 in levels and args.sync_rounds:  # BudClient blocks: one call at a time per thread
                rounds = await compare_sync(url, execution_id, args.requests, args.sync_rounds)
                print("BudClient vs AsyncBudClient at concurrency 1, alternating blocks (client CPU µs/req):")
                for n, (async_cpu, sync_cpu) in enumerate(rounds, 1):
                    print(
                        f"  round {n}: async {async_cpu:.0f}, sync {sync_cpu:.0f} "
                        f"-> {sync_cpu / async_cpu:.2f}x"
                    )
                ratios = sorted(sync_cpu / async_cpu for async_cpu, sync_cpu in rounds)
                median = statistics.median(ratios)
                print(f"  median {median:.2f}x (min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x)")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
