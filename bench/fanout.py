"""Fan-out benchmark (not a test): N executions of a no-op pipeline submitted and awaited, three ways.

Each variant runs against a fresh local server (``python -m budai_server``, its own process, a new
SQLite file, `--max-concurrent-executions` run slots) and in its own client process, so the client
peak RSS (``ru_maxrss``) of one variant is not inflated by another. Every client first pays the same
floor (the interpreter, aiohttp, the SDK and the status watch's `websockets`, an open client, the
pipeline created): its RSS is read right before the variant starts, and the table reports beside the
peak the growth above that floor, which is what the fan-out itself costs:

- ``batch``  -- `create_many(..., wait=True)`: batch endpoint chunks, one status websocket;
- ``bounded`` -- the honest peer a careful user writes without the batch API: `create` with at most
  64 calls in flight (a semaphore), then one status watch (`wait_all`: one websocket for all ids);
- ``guide``  -- the guide's pattern: `create(wait=False)` in a loop, then every 5 s `get` every
  execution until none is pending or running;
- ``gather`` -- a naive `asyncio.gather` of N `create` calls, then a `gather` of N `wait` calls.

Usage (figures go to docs/batch.md, "Benchmarks"):

    .venv/bin/python bench/fanout.py [--executions 10000] [--slots 256]
        [--variants batch,bounded,guide,gather]

A variant is stopped after `--max-seconds` (reported as a timeout). Prints a table and, with
`--json`, one JSON object per variant.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NOOP = {"steps": [{"id": "out", "action": "set_output", "params": {"values": {"n": "{{ params.n }}"}}}]}
VARIANTS = ("batch", "bounded", "guide", "gather")
BOUNDED_CONCURRENCY = 64  # in-flight `create` calls of the honest peer (the client's pool is 100)


# ------------------------------------------------------------------------------ client side (child)


async def _variant_batch(client: Any, pipeline_id: str, n: int) -> int:
    from budai_async.batch import create_many

    result = await create_many(
        client, pipeline_id, ({"n": i} for i in range(n)), concurrency=4, chunk_size=500, wait=True
    )
    return result.counts.completed


async def _variant_bounded(client: Any, pipeline_id: str, n: int) -> int:
    from budai_async.batch import wait_all

    gate = asyncio.Semaphore(BOUNDED_CONCURRENCY)

    async def one(i: int) -> Any:
        async with gate:
            return await client.executions.create(pipeline_id, params={"n": i})

    created = await asyncio.gather(*(one(i) for i in range(n)))
    done = await wait_all(client, created)
    return sum(1 for e in done if e.status == "completed")


async def _variant_guide(client: Any, pipeline_id: str, n: int) -> int:
    executions = []
    for i in range(n):
        executions.append(await client.executions.create(pipeline_id, params={"n": i}, wait=False))
    while any(e.status in ("pending", "running") for e in executions):
        await asyncio.sleep(5)
        executions = [await client.executions.get(e.id) for e in executions]
    return sum(1 for e in executions if e.status == "completed")


async def _variant_gather(client: Any, pipeline_id: str, n: int) -> int:
    created = await asyncio.gather(
        *(client.executions.create(pipeline_id, params={"n": i}) for i in range(n))
    )
    done = await asyncio.gather(*(client.executions.wait(e.id) for e in created))
    return sum(1 for e in done if e.status == "completed")


def _current_rss_mb() -> float:
    """This process's resident set now (``/proc/self/statm``; Linux, as ``ru_maxrss`` in KiB is)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def _run_child(variant: str, url: str, n: int, max_seconds: float) -> dict[str, Any]:
    # What the variants import (the batch package, the status websocket) is part of the floor, not of
    # the fan-out: loaded before the floor is read (today it adds nothing: the SDK import loads both).
    import budai_async.batch
    import budai_async.batch._watch_link  # noqa: F401
    from budai_async import AsyncBudClient

    async with AsyncBudClient(base_url=url) as client:
        pipeline = await client.pipelines.create(name=f"noop-{variant}", definition=NOOP)
        gc.collect()
        floor_mb = _current_rss_mb()
        runner = {
            "batch": _variant_batch,
            "bounded": _variant_bounded,
            "guide": _variant_guide,
            "gather": _variant_gather,
        }[variant]
        started = time.perf_counter()
        try:
            async with asyncio.timeout(max_seconds):
                completed = await runner(client, pipeline.id, n)
            timed_out = False
        except TimeoutError:
            completed, timed_out = 0, True
        wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_mb = usage.ru_maxrss / 1024  # KiB on Linux
    return {
        "variant": variant,
        "executions": n,
        "completed": completed,
        "timed_out": timed_out,
        "wall_seconds": round(wall, 2),
        "executions_per_second": round(n / wall, 1) if not timed_out else None,
        "client_peak_rss_mb": round(rss_mb, 1),
        "client_floor_rss_mb": round(floor_mb, 1),
        "client_growth_mb": round(max(rss_mb - floor_mb, 0.0), 1),
        "client_cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
    }


# ------------------------------------------------------------------------------ orchestration (parent)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(db: Path, port: int, slots: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "budai_server",
        "--db",
        str(db),
        "--port",
        str(port),
        "--max-concurrent-executions",
        str(slots),
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    import urllib.request

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/ready", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} not ready")


def _run_variant(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    load = round(os.getloadavg()[0], 2)  # the machine may be shared: say how busy it was
    with tempfile.TemporaryDirectory(prefix="budai-fanout-") as tmp:
        port = _free_port()
        server = _start_server(Path(tmp) / "bench.db", port, args.slots)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, server)
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    variant,
                    "--url",
                    url,
                    "--executions",
                    str(args.executions),
                    "--max-seconds",
                    str(args.max_seconds),
                ],
                capture_output=True,
                text=True,
                timeout=args.max_seconds + 120,
                check=False,
            )
            if child.returncode != 0:
                raise SystemExit(f"variant {variant} failed:\n{child.stderr}")
            result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
            result["load_average_1m"] = load
            return result
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()


def _speedup(peer: dict[str, Any] | None, r: dict[str, Any]) -> str:
    if peer is None or peer["timed_out"] or r["timed_out"] or not r["wall_seconds"]:
        return "-"
    return f"{peer['wall_seconds'] / r['wall_seconds']:.2f}x"


def _share(peer: dict[str, Any] | None, r: dict[str, Any], key: str) -> str:
    """`r`'s figure as a fraction of the peer's (memory: lower is better)."""
    if peer is None or not peer[key]:
        return "-"
    return f"{r[key] / peer[key]:.2f}"


def _table(results: list[dict[str, Any]]) -> str:
    by_name = {r["variant"]: r for r in results}
    bounded = by_name.get("bounded")
    lines = [
        "| variant | executions | wall s | executions/s | client peak RSS MB | floor MB | growth MB "
        "| client CPU s | load 1m | speed vs bounded | RSS vs bounded | growth vs bounded | vs guide |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        wall = "timeout" if r["timed_out"] else r["wall_seconds"]
        lines.append(
            f"| {r['variant']} | {r['completed']}/{r['executions']} | {wall} | "
            f"{r['executions_per_second'] or '-'} | {r['client_peak_rss_mb']} | {r['client_floor_rss_mb']} | "
            f"{r['client_growth_mb']} | {r['client_cpu_seconds']} | {r['load_average_1m']} | "
            f"{_speedup(bounded, r)} | {_share(bounded, r, 'client_peak_rss_mb')} | "
            f"{_share(bounded, r, 'client_growth_mb')} | {_speedup(by_name.get('guide'), r)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--slots", type=int, default=256, help="server --max-concurrent-executions")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_run_child(args.child, args.url, args.executions, args.max_seconds))))
        return
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)}")
    machine = f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    print(f"{machine}, {args.executions} executions, {args.slots} slots")
    results = []
    for variant in variants:
        result = _run_variant(variant, args)
        results.append(result)
        if args.json:
            print(json.dumps(result))
    print(_table(results))


if __name__ == "__main__":
    main()
