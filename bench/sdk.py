"""SDK benchmark (not a test): client CPU per `executions.get` against the limit, bare aiohttp.

The local server runs in its own process (``python -m budai_server`` on a fresh SQLite file), so
the CPU time measured here (`time.process_time` of this process) is the client's alone. For each
concurrency, every client is opened at once (each with `--connections`), warmed up, and then
`--repeat` rounds run one block of `--requests` GETs of one stored execution per client, spread
over that many tasks; the blocks of all clients interleave, in reverse every other round, so a
load that drifts moves every client alike (this machine's rows swing by ±20 %). Clients:

- ``aiohttp``: bare ``aiohttp.ClientSession`` GET + ``read()``: the limit (HTTP only);
- ``aiohttp+json``: the same + ``json.loads``: the headline baseline (HTTP and JSON);
- ``aiohttp+msgspec``: the same with ``msgspec.json.decode``, the decoder the SDK uses: the limit
  with the same JSON reader (the SDK's choice of decoder is part of its cost, so the headline stays
  ``aiohttp+json``; this row shows what is left beside it);
- ``aiohttp+json+timeouts``: the same with the SDK's default timeouts (``sock_connect=10``,
  ``sock_read=60``, no total): what the read timeout alone costs in aiohttp's timer handling;
- ``aiohttp+json+cattrs``: the same + a stock ``cattrs.Converter`` into the same `Execution` model
  (after the two rewrites the gateway-typed wire needs: `steps` list -> mapping, `progress` object
  -> number; `stock_structure`);
- ``budai_async``: ``await client.executions.get(id)`` -> a typed `Execution` (retries, errors, model);
- ``httpx``: ``(await client.get(path)).json()`` on an ``httpx.AsyncClient`` (kept as a peer);
- ``BudClient`` (concurrency 1 only, `--sync-rounds`): ``client.executions.get(id)`` on the blocking
  client, called from a plain thread, in blocks alternating with blocks of ``AsyncBudClient`` calls;
  its CPU includes its private loop thread (process time counts every thread).

The headline ratio is budai_async CPU µs/request over aiohttp+json's, per concurrency: the summary
gives the ratio of the medians and the median of each round's paired ratio; the load average is
printed with every row.

Usage (figures go to docs/benchmarks.md):

    .venv/bin/python bench/sdk.py [--requests 5000] [--concurrency 1,64,512] [--connections 100] [--repeat 2]
        [--clients aiohttp,aiohttp+json,...] [--httpx-requests 500]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import cattrs
import httpx
import msgspec

from budai_async import AsyncBudClient, BudClient
from budai_async.models import Execution

decode_msgspec = msgspec.json.Decoder().decode
STEPS = {"steps": [{"id": "out", "action": "set_output", "params": {"values": {"ok": True}}}]}
Call = Callable[[], Awaitable[Any]]


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


async def measure(call: Call, requests: int, concurrency: int) -> tuple[float, float]:
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


def stock_converter() -> cattrs.Converter:
    """What a careful user would write: a stock converter, ISO datetimes via fromisoformat."""
    conv = cattrs.Converter()
    conv.register_structure_hook(datetime, lambda value, _type: datetime.fromisoformat(value))
    return conv


def stock_structure(conv: cattrs.Converter, data: dict[str, Any]) -> Execution:
    """A careful user's reading of the wire into our model: the two rewrites, then stock cattrs."""
    steps = {item["step_id"]: {**item, "status": item["run_status"]} for item in data["steps"]}
    progress = data["progress"]["percent_complete"]
    return conv.structure({**data, "steps": steps, "progress": progress}, Execution)


@contextlib.asynccontextmanager
async def open_client(
    name: str, url: str, execution_id: str, args: argparse.Namespace
) -> AsyncIterator[Call]:
    """Open one client (its own pool of `--connections`) and yield its call: one GET, parsed."""
    path = f"/budpipeline/executions/{execution_id}"
    if name == "budai_async":
        async with AsyncBudClient(base_url=url, max_connections=args.connections) as client:

            async def budai() -> Any:
                return await client.executions.get(execution_id)

            yield budai
        return
    if name == "httpx":
        limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as hclient:

            async def hx() -> Any:
                response = await hclient.get(path)
                response.raise_for_status()
                return response.json()

            yield hx
        return
    conv = stock_converter()
    connector = aiohttp.TCPConnector(limit=args.connections)
    timeout = aiohttp.ClientTimeout()  # aiohttp's default: total 300 s, no read timeout
    if name == "aiohttp+json+timeouts":
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        full = url + path

        async def bare() -> Any:
            async with session.get(full) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(response.status)
            if name == "aiohttp":
                return body
            data = decode_msgspec(body) if name == "aiohttp+msgspec" else json.loads(body)
            if name in ("aiohttp+json", "aiohttp+msgspec", "aiohttp+json+timeouts"):
                return data
            return stock_structure(conv, data)

        yield bare


async def run_level(
    clients: list[str], url: str, execution_id: str, args: argparse.Namespace, level: int
) -> dict[str, list[tuple[float, float, float]]]:
    """Every client open at once, then `--repeat` rounds of one short block per client.

    Blocks of all clients interleave (in reverse every other round), so a load that drifts moves
    every client alike; each round's blocks are seconds apart. httpx costs milliseconds of CPU per
    request, so its blocks are `--httpx-requests` long.
    """
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in clients}
    async with contextlib.AsyncExitStack() as stack:
        calls = {
            name: await stack.enter_async_context(open_client(name, url, execution_id, args))
            for name in clients
        }
        for name, call in calls.items():  # warm-up: pools filled, fast paths compiled
            await measure(call, min(args.requests, 1000 if name != "httpx" else args.httpx_requests), level)
        for rnd in range(1, args.repeat + 1):
            for name in clients if rnd % 2 else clients[::-1]:
                count = min(args.requests, args.httpx_requests) if name == "httpx" else args.requests
                rps, us = await measure(calls[name], count, level)
                rows[name].append((rps, us, os.getloadavg()[0]))
    return rows


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


CLIENTS = (
    "aiohttp",
    "aiohttp+json",
    "aiohttp+msgspec",
    "aiohttp+json+timeouts",
    "aiohttp+json+cattrs",
    "budai_async",
    "httpx",
)


async def parse_costs(url: str, execution_id: str) -> None:
    """CPU µs to turn the server's execution body into an `Execution`, in this process (timeit,
    best of 50 short runs, so a busy machine disturbs it less): the SDK's reader from the bytes (what
    `executions.get` runs), our converter from decoded dicts (fast path), the same converter without
    it (the generic path), and a stock cattrs converter; the two decoders alone for scale."""
    import timeit

    from budai_async._convert import converter, make_converter
    from budai_async.resources._base import read_execution

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/budpipeline/executions/{execution_id}") as r,
    ):
        body = await r.read()
    data = json.loads(body)
    reference, stock = make_converter(fast_paths=False), stock_converter()
    rows = {
        "json.loads": lambda: json.loads(body),
        "msgspec.json.decode": lambda: decode_msgspec(body),
        "budai_async, bytes -> Execution": lambda: read_execution(body),
        "dict -> Execution, fast path": lambda: converter.structure(data, Execution),
        "dict -> Execution, generic": lambda: reference.structure(data, Execution),
        "dict -> Execution, stock cattrs": lambda: stock_structure(stock, data),
    }
    print(f"structuring one execution ({len(body)} bytes of JSON), µs, best of 50 x 200:")
    for name, call in rows.items():
        best = min(timeit.repeat(call, number=200, repeat=50)) / 200 * 1e6
        print(f"  {name:<32} {best:6.1f}")


async def child(args: argparse.Namespace) -> None:
    """`--child NAME`: one client, a warm-up, then `--child-requests` calls at `--level` (under valgrind)."""
    async with open_client(args.child, args.url, args.execution, args) as call:
        await measure(call, 100, args.level)
        await measure(call, args.child_requests, args.level)


def instructions(name: str, url: str, execution_id: str, args: argparse.Namespace, level: int) -> float:
    """Instructions per call of client `name`, counted by callgrind (repeatable on a noisy machine).

    The client runs twice in its own process under `valgrind --tool=callgrind`, with N and 2N
    measured calls after the same start-up and warm-up; the difference over N is one call's count.
    """
    counts = []
    for requests in (args.instructions, 2 * args.instructions):
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__]
        command += ["--child", name, "--url", url, "--execution", execution_id, "--level", str(level)]
        command += ["--child-requests", str(requests), "--connections", str(args.connections)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        match = re.search(r"Collected : (\d+)", done.stderr)
        if match is None:
            raise RuntimeError(f"no callgrind total for {name}: {done.stderr[-500:]}")
        counts.append(int(match.group(1)))
    return (counts[1] - counts[0]) / args.instructions


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--concurrency", default="1,64,512")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--httpx-requests", type=int, default=500, help="requests per httpx row")
    parser.add_argument("--parse-only", action="store_true", help="only the in-process structuring costs")
    parser.add_argument(
        "--sync-rounds", type=int, default=0, help="BudClient vs AsyncBudClient rounds (0: skip)"
    )
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        help="also count instructions per call with callgrind, N and 2N calls per client (0: skip)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--execution", help=argparse.SUPPRESS)
    parser.add_argument("--level", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--child-requests", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        await child(args)
        return
    levels = [int(level) for level in args.concurrency.split(",")]
    clients = args.clients.split(",")

    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_server(Path(tmp) / "bench.db")
        try:
            execution_id = await prepare(url)
            await parse_costs(url, execution_id)
            if args.parse_only:
                return
            if args.instructions:
                calls = f"{args.instructions} and {2 * args.instructions} calls"
                print(f"instructions per call (callgrind, {calls} per client):")
                for level in levels:
                    counted = {
                        name: await asyncio.to_thread(instructions, name, url, execution_id, args, level)
                        for name in clients
                    }
                    base = counted.get("aiohttp+json")
                    for name, count in counted.items():
                        ratio = f" ({count / base:.2f}x)" if base else ""
                        print(f"  concurrency {level}: {name:<22} {count:>12,.0f}{ratio}", flush=True)
            print(
                f"server: {url} (separate process), {args.requests} requests per row, "
                f"{args.connections} connections max"
            )
            print(
                f"{'conc':>5} | {'round':>5} | {'client':<20} | {'req/s':>7} | {'CPU µs/req':>10} | load avg"
            )
            summary: list[str] = []
            for level in levels if args.repeat > 0 else []:  # --repeat 0: instructions only
                rows = await run_level(clients, url, execution_id, args, level)
                cpu = {name: [us for _rps, us, _load in runs] for name, runs in rows.items()}
                for rnd in range(args.repeat):
                    for name in clients:
                        rps, us, load = rows[name][rnd]
                        print(
                            f"{level:>5} | {rnd + 1:>5} | {name:<20} | {rps:>7.0f} | {us:>10.0f} | {load:.2f}"
                        )
                med = {name: statistics.median(values) for name, values in cpu.items()}
                base = med.get("aiohttp+json")
                if base:
                    parts = [f"{name} {med[name]:.0f} µs ({med[name] / base:.2f}x)" for name in clients]
                    summary.append(f"concurrency {level}: " + ", ".join(parts))
                    print(f"  -> {summary[-1]}", flush=True)
                    for limit in ("aiohttp+json", "aiohttp+msgspec"):
                        if "budai_async" not in cpu or limit not in cpu:
                            continue
                        paired = [
                            ours / bare for ours, bare in zip(cpu["budai_async"], cpu[limit], strict=True)
                        ]
                        rounds = " ".join(f"{ratio:.2f}" for ratio in paired)
                        target = " (target <= 1.2x)" if limit == "aiohttp+json" else " (same decoder)"
                        summary.append(
                            f"  budai_async / {limit} per round: {rounds}, "
                            f"median {statistics.median(paired):.2f}x{target}"
                        )
                        print(f"  -> {summary[-1].strip()}", flush=True)
            print("median CPU µs/request, ratio to aiohttp+json (the headline limit):")
            for line in summary:
                print("  " + line)
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
