"""Engine benchmark (not a test): N executions of a 3-step no-op pipeline on an on-disk SQLite store.

Runs in one process through the real server parts, wired as `budai_server.app` wires them: `Store`
(a new SQLite file in WAL mode under a temporary directory), `LogBus` + `LogStore` (every log line
is committed), `Scheduler` (admission under `--max-concurrent` run slots, batched step writes,
final state committed before the execution counts as done) and `ExecutionRunner` with the
built-in actions. No HTTP: this measures the engine and its persistence, not the API.

The pipeline is ``log -> set_output -> transform``, each step reading the previous one's output
through a template. All executions are submitted at once (each submit commits its row), then the
clock stops when the last final state is committed.

Reported:
- executions/s: N / (time from the first submit to the last committed final state);
- step-to-step latency: for each dependent step, its `started_at` minus its dependency's
  `completed_at` (2 samples per execution), p50 / p99 / max in milliseconds;
- engine cpu ms/exec: the mean of the executions' `cpu_seconds` (the runner's own measurement);
- process cpu ms/exec: the whole process's CPU time (all threads, SQLite included) per execution;
- peak RSS: the largest `peak_memory_mb` reported.

Usage (figures go to docs/engine.md and docs/benchmarks.md):

    .venv/bin/python bench/engine.py [--executions 1000] [--max-concurrent 8] [--repeat 3]
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

from budai_async.models import Execution
from budai_server.actions import ActionRegistry
from budai_server.engine.runner import ExecutionRunner
from budai_server.inventory import Inventory
from budai_server.logbus import LogBus
from budai_server.logstore import LogStore
from budai_server.scheduler import ExecutionRequest, Scheduler
from budai_server.store import Store

PIPELINE: dict[str, Any] = {
    "steps": [
        {"id": "say", "action": "log", "params": {"message": "run {{ params.n }}", "level": "debug"}},
        {
            "id": "publish",
            "action": "set_output",
            "params": {"values": {"text": "{{ steps.say.output.message }}"}},
        },
        {
            "id": "shape",
            "action": "transform",
            "params": {"input": "{{ steps.publish.output }}", "operation": "keys"},
        },
    ]
}
EDGES = (("say", "publish"), ("publish", "shape"))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def run_once(executions: int, max_concurrent: int, directory: Path) -> dict[str, Any]:
    """One measured round on a fresh database file."""
    store = Store(directory / f"bench-{time.monotonic_ns()}.db", flush_interval=0.005)
    await store.open()
    bus = LogBus(LogStore(store))
    await bus.start()
    scheduler = Scheduler(store, max_concurrent=max_concurrent)
    inventory = Inventory(store)
    await inventory.seed()
    runner = ExecutionRunner(ActionRegistry.with_builtins(), inventory)
    finished: list[Execution] = []
    all_done = asyncio.Event()

    async def on_terminal(execution: Execution) -> None:
        finished.append(execution)
        if len(finished) == executions:
            all_done.set()

    scheduler.add_terminal_listener(on_terminal)
    await scheduler.start(runner, bus)
    started, cpu_started = time.perf_counter(), time.process_time()
    for n in range(executions):
        await scheduler.submit(ExecutionRequest(definition=PIPELINE, params={"n": n}))
    await all_done.wait()
    elapsed = time.perf_counter() - started
    process_cpu = time.process_time() - cpu_started
    await scheduler.stop()
    await bus.stop()
    await store.close()

    gaps = []
    for execution in finished:
        for before, after in EDGES:
            done, began = execution.steps[before].completed_at, execution.steps[after].started_at
            assert done is not None and began is not None
            gaps.append((began - done).total_seconds() * 1000)
    statuses = {str(e.status) for e in finished}
    return {
        "executions": executions,
        "statuses": sorted(statuses),
        "seconds": elapsed,
        "per_second": executions / elapsed,
        "p50_ms": percentile(gaps, 0.50),
        "p99_ms": percentile(gaps, 0.99),
        "max_ms": max(gaps),
        "cpu_ms": 1000 * statistics.mean(e.cpu_seconds or 0.0 for e in finished),
        "process_cpu_ms": 1000 * process_cpu / executions,
        "peak_mb": max(e.peak_memory_mb or 0.0 for e in finished),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--max-concurrent", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    command = "python bench/engine.py " + " ".join(sys.argv[1:])
    print(f"$ {command.strip()}")
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPU(s)")
    print(
        "run  executions  seconds  exec/s  step-to-step p50 ms  p99 ms  max ms"
        "  engine cpu ms/exec  process cpu ms/exec  peak RSS MB  load avg"
    )
    with tempfile.TemporaryDirectory(prefix="budai-bench-") as tmp:
        for index in range(1, args.repeat + 1):
            load = os.getloadavg()[0]  # other processes on the machine skew the figures
            r = await run_once(args.executions, args.max_concurrent, Path(tmp))
            assert r["statuses"] == ["completed"], r["statuses"]
            print(
                f"{index:>3}  {r['executions']:>10}  {r['seconds']:>7.2f}  {r['per_second']:>6.0f}"
                f"  {r['p50_ms']:>19.2f}  {r['p99_ms']:>6.2f}  {r['max_ms']:>6.2f}"
                f"  {r['cpu_ms']:>18.3f}  {r['process_cpu_ms']:>19.3f}  {r['peak_mb']:>11.1f}  {load:>8.2f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
