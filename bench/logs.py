"""Benchmark of execution log streaming: throughput to one follower, and emit-to-receive latency.

Not a test. Starts the real server (`python -m budai_server`) in a subprocess with this file loaded
as an action module (it registers `bench_log_burst`, an action that writes many log lines), runs a
log-heavy execution and follows it with the SDK (`client.executions.logs(..., follow=True)`) in this
process. Every line carries the CLOCK_MONOTONIC time of its emit, which is shared by all processes
on Linux, so the follower measures emit-to-receive latency directly.

    .venv/bin/python bench/logs.py                      # defaults: 200,000 lines; 5 s at 1,000 lines/s
    .venv/bin/python bench/logs.py --lines 500000 --latency-seconds 10

Results and the machine they ran on go to docs/logs.md ("Benchmarks").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
LISTENING = "budai-server listening on "


# ---------------------------------------------------------------- the action (runs in the server)


def register(registry: Any) -> None:
    """Action module hook (`budai-server --actions logs`): add `bench_log_burst`."""

    @registry.action(
        "bench_log_burst",
        description="Write `lines` log lines, as fast as possible or at `rate` lines/s.",
        params={
            "type": "object",
            "properties": {
                "lines": {"type": "integer", "minimum": 1},
                "rate": {"type": "number", "minimum": 0},
                "chunk": {"type": "integer", "minimum": 1},
            },
            "required": ["lines"],
        },
        outputs=("lines",),
    )
    async def burst(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        lines, rate, chunk = int(params["lines"]), float(params.get("rate", 0)), int(params.get("chunk", 500))
        emit = ctx.log.info
        clock = time.monotonic_ns
        if rate <= 0:  # flat out, yielding to the loop every `chunk` lines so the streams can send
            for i in range(lines):
                emit(f"bench {i} {clock()}")
                if i % chunk == chunk - 1:
                    await asyncio.sleep(0)
            return {"lines": lines}
        started, sent = time.monotonic(), 0
        while sent < lines:  # paced: emit what is due, then sleep about one line's interval
            due = min(lines, int((time.monotonic() - started) * rate) + 1)
            while sent < due:
                emit(f"bench {sent} {clock()}")
                sent += 1
            await asyncio.sleep(1.0 / rate)
        return {"lines": lines}


# ---------------------------------------------------------------- the driver (runs here)


async def start_server(db: Path) -> tuple[asyncio.subprocess.Process, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), os.environ.get("PYTHONPATH", "")])}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "budai_server",
        "--db",
        str(db),
        "--port",
        "0",
        "--actions",
        "logs",
        "--log-level",
        "warning",
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    async with asyncio.timeout(30):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise RuntimeError("the server exited before listening")
            if line.startswith(LISTENING):
                return process, line[len(LISTENING) :].strip()


async def follow_burst(base_url: str, params: dict[str, Any]) -> tuple[list[int], list[int], int]:
    """Run one `bench_log_burst` execution and follow it; (emit ns, receive ns) of its lines, reconnects."""
    from budai_async import AsyncBudClient
    from budai_async.logs import execution_logs

    emitted: list[int] = []
    received: list[int] = []
    clock = time.monotonic_ns
    async with AsyncBudClient(base_url=base_url) as client:
        pipeline = await client.pipelines.create(
            name="bench logs",
            definition={"steps": [{"id": "burst", "action": "bench_log_burst", "params": params}]},
        )
        execution = await client.executions.create(pipeline.id)
        async with execution_logs(client, execution.id, follow=True) as stream:
            async for entry in stream:
                if entry.message.startswith("bench "):
                    received.append(clock())
                    emitted.append(int(entry.message.rsplit(" ", 1)[1]))
        if stream.status != "completed":
            raise RuntimeError(f"the bench execution ended {stream.status}")
        return emitted, received, stream.reconnects


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(lines: int, latency_rate: float, latency_seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        process, base_url = await start_server(Path(tmp) / "bench.db")
        try:
            server_cpu, client_cpu = cpu_seconds(process.pid), time.process_time()
            emitted, received, reconnects = await follow_burst(base_url, {"lines": lines})
            server_cpu, client_cpu = cpu_seconds(process.pid) - server_cpu, time.process_time() - client_cpu
            if len(received) != lines:
                raise RuntimeError(f"followed {len(received)} of {lines} lines")
            elapsed = (received[-1] - emitted[0]) / 1e9
            throughput = {"lines": lines, "seconds": elapsed, "lines_per_second": lines / elapsed}
            throughput.update(reconnects=reconnects, server_cpu=server_cpu, client_cpu=client_cpu)

            paced = int(latency_rate * latency_seconds)
            emitted, received, reconnects = await follow_burst(
                base_url, {"lines": paced, "rate": latency_rate}
            )
            latencies = [(r - e) / 1e6 for e, r in zip(emitted, received, strict=True)]
            latency = {
                "lines": paced,
                "rate": latency_rate,
                "p50_ms": statistics.median(latencies),
                "p99_ms": percentile(latencies, 0.99),
                "max_ms": max(latencies),
                "reconnects": reconnects,
            }
        finally:
            process.terminate()
            await process.wait()
    return {"throughput": throughput, "latency": latency}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=200_000, help="lines of the flat-out burst")
    parser.add_argument("--latency-rate", type=float, default=1000.0, help="lines/s of the paced run")
    parser.add_argument("--latency-seconds", type=float, default=5.0, help="length of the paced run")
    args = parser.parse_args()
    result = asyncio.run(run(args.lines, args.latency_rate, args.latency_seconds))
    t, lat = result["throughput"], result["latency"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"throughput: {t['lines']} lines in {t['seconds']:.2f} s = {t['lines_per_second']:,.0f} lines/s "
        f"(emit to receive, one follower; {t['reconnects']} reconnects; CPU s: server {t['server_cpu']:.1f}, "
        f"client {t['client_cpu']:.1f}; target >= 50,000)"
    )
    print(
        f"latency at {lat['rate']:.0f} lines/s ({lat['lines']} lines): p50 {lat['p50_ms']:.2f} ms, "
        f"p99 {lat['p99_ms']:.2f} ms, max {lat['max_ms']:.2f} ms (target p99 <= 50 ms)"
    )


if __name__ == "__main__":
    main()
