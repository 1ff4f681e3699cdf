"""Engine benchmark (not a test): N executions of a 3-step no-op pipeline, against two baselines.

Runs in one process through the real server parts, wired as `budai_server.app` wires them: `Store`
(a new SQLite file in WAL mode under a temporary directory), `LogBus` + `LogStore` (every log line
is committed), `Scheduler` (admission under `--max-concurrent` run slots, batched step writes,
final state committed before the execution counts as done) and `ExecutionRunner` with the
built-in actions. No HTTP: this measures the engine and its persistence, not the API.

The pipeline is ``log -> set_output -> transform``, each step reading the previous one's output
through a template. All executions are submitted at once (each submit commits its row), then the
clock stops when the last final state is committed.

Each round runs three variants side by side in this process, in turn, so they share the machine's
load at that moment (the machine is shared: compare the ratios, not the absolute rates):

- ``disk``: the engine as above, on a new SQLite file (the measured figure);
- ``memory``: the same engine on an in-memory SQLite database (``:memory:``), so the difference to
  ``disk`` is what the file costs;
- ``bare``: the same three action functions awaited in order, with the outputs passed by hand, as
  one asyncio task per execution under the same number of slots: no templates, no store, no log
  bus, no scheduler. Nothing the engine does can be cheaper, so engine/bare bounds its overhead.

Reported per variant:
- executions/s: N / (time from the first submit to the last committed final state);
- step-to-step latency: for each dependent step, its `started_at` minus its dependency's
  `completed_at` (2 samples per execution), p50 / p99 / max in milliseconds;
- engine cpu ms/exec: the mean of the executions' `cpu_seconds` (the runner's own measurement);
- process cpu ms/exec: the whole process's CPU time (all threads, SQLite included) per execution;
- peak RSS: the largest `peak_memory_mb` reported;
then, per round and as the median over rounds, the ratios disk/bare, memory/bare and disk/memory.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from budai_async.models import Execution
from budai_server.actions.builtins import builtin_registry
from budai_server.actions.registry import ActionContext, ActionHandler, ActionSettings, StepLog
from budai_server.engine.runner import ExecutionRunner
from budai_server.logs.bus import LogBus
from budai_server.logs.store import LogStore
from budai_server.scheduler import ExecutionRequest, Scheduler
from budai_server.store.database import Store
from budai_server.store.inventory import Inventory, MemoryInventoryStore

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
VARIANTS = ("disk", "memory", "bare")
MEMORY = ":memory:"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def run_engine(executions: int, max_concurrent: int, database: Path | str) -> dict[str, Any]:
    """One measured round of the real engine on `database` (a new file, or ``:memory:``)."""
    store = Store(database, flush_interval=0.005)
    await store.open()
    bus = LogBus(LogStore(store))
    await bus.start()
    scheduler = Scheduler(store, max_concurrent=max_concurrent)
    inventory = Inventory(store)
    await inventory.seed()
    runner = ExecutionRunner(builtin_registry(), inventory)
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
    statuses = sorted({str(e.status) for e in finished})
    if statuses != ["completed"] or any(e.outputs.get("result") != ["text"] for e in finished):
        raise RuntimeError(f"the engine runs did not all complete as expected: {statuses}")
    return summarise(executions, elapsed, process_cpu, gaps) | {
        "cpu_ms": 1000 * statistics.mean(e.cpu_seconds or 0.0 for e in finished),
        "peak_mb": max(e.peak_memory_mb or 0.0 for e in finished),
    }


class ListSink:
    """A `LogSink` keeping the lines in a list: the bare baseline's stand-in for the log bus."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str, str | None]] = []

    def emit(self, execution_id: str, level: str, message: str, step_id: str | None = None) -> None:
        self.lines.append((execution_id, level, message, step_id))


# How the bare baseline builds each step's params from the previous output (the templates' work, by hand).
BARE_STEPS: tuple[tuple[str, Callable[[int, Any], dict[str, Any]]], ...] = (
    ("say", lambda n, previous: {"message": f"run {n}", "level": "debug"}),
    ("publish", lambda n, previous: {"values": {"text": previous["message"]}}),
    ("shape", lambda n, previous: {"input": dict(previous), "operation": "keys"}),
)


async def run_bare(executions: int, max_concurrent: int) -> dict[str, Any]:
    """The same three action functions per execution as bare asyncio tasks: the lower bound."""
    registry = builtin_registry()
    handlers: dict[str, ActionHandler] = {}
    for step in PIPELINE["steps"]:
        registered = registry.resolve(step["action"])
        assert registered is not None
        handlers[step["id"]] = registered.handler
    sink, inventory, settings = ListSink(), Inventory(MemoryInventoryStore()), ActionSettings()
    slots = asyncio.Semaphore(max_concurrent)
    gaps: list[float] = []
    results: list[Any] = []
    clock = time.perf_counter

    async def execute(n: int) -> None:
        execution_id = f"bare-{n}"
        output: Any = None
        done: float | None = None
        async with slots:
            for step_id, make_params in BARE_STEPS:
                params = make_params(n, output)
                actx = ActionContext(
                    execution_id=execution_id,
                    step_id=step_id,
                    attempt=1,
                    log=StepLog(sink, execution_id, step_id),
                    inventory=inventory,
                    http=None,
                    settings=settings,
                    evaluate=lambda expression: None,
                )
                began = clock()
                if done is not None:
                    gaps.append((began - done) * 1000)
                output = await handlers[step_id](params, actx)
                done = clock()
            results.append(output["result"])

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(execute(n) for n in range(executions)))
    elapsed = time.perf_counter() - started
    process_cpu = time.process_time() - cpu_started
    if len(results) != executions or any(result != ["text"] for result in results):
        raise RuntimeError("the bare runs did not all produce the expected output")
    if len(sink.lines) != executions:
        raise RuntimeError(f"the bare runs logged {len(sink.lines)} lines, not {executions}")
    return summarise(executions, elapsed, process_cpu, gaps) | {"cpu_ms": None, "peak_mb": None}


def summarise(executions: int, elapsed: float, process_cpu: float, gaps: list[float]) -> dict[str, Any]:
    """The figures every variant reports."""
    return {
        "executions": executions,
        "seconds": elapsed,
        "per_second": executions / elapsed,
        "p50_ms": percentile(gaps, 0.50),
        "p99_ms": percentile(gaps, 0.99),
        "max_ms": max(gaps),
        "process_cpu_ms": 1000 * process_cpu / executions,
    }


async def run_variant(variant: str, executions: int, max_concurrent: int, directory: Path) -> dict[str, Any]:
    if variant == "disk":
        return await run_engine(executions, max_concurrent, directory / f"bench-{time.monotonic_ns()}.db")
    if variant == "memory":
        return await run_engine(executions, max_concurrent, MEMORY)
    return await run_bare(executions, max_concurrent)


def ratios(rows: dict[str, dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """(throughput ratio, process-CPU-per-execution ratio) for each pair compared."""
    pairs = {
        "disk/bare": ("disk", "bare"),
        "memory/bare": ("memory", "bare"),
        "disk/memory": ("disk", "memory"),
    }
    return {
        name: (
            rows[a]["per_second"] / rows[b]["per_second"],
            rows[a]["process_cpu_ms"] / rows[b]["process_cpu_ms"],
        )
        for name, (a, b) in pairs.items()
    }


def optional(value: float | None, width: int, digits: int) -> str:
    return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


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
        "run  variant  executions  seconds  exec/s  step-to-step p50 ms  p99 ms  max ms"
        "  engine cpu ms/exec  process cpu ms/exec  peak RSS MB  load avg"
    )
    per_round: list[dict[str, tuple[float, float]]] = []
    with tempfile.TemporaryDirectory(prefix="budai-bench-") as tmp:
        for index in range(1, args.repeat + 1):
            rows: dict[str, dict[str, Any]] = {}
            for variant in VARIANTS:
                load = os.getloadavg()[0]  # other processes on the machine skew the figures
                r = rows[variant] = await run_variant(
                    variant, args.executions, args.max_concurrent, Path(tmp)
                )
                print(
                    f"{index:>3}  {variant:<7}  {r['executions']:>10}  {r['seconds']:>7.2f}"
                    f"  {r['per_second']:>6.0f}  {r['p50_ms']:>19.3f}"
                    f"  {r['p99_ms']:>6.3f}  {r['max_ms']:>6.2f}"
                    f"  {optional(r['cpu_ms'], 18, 3)}  {r['process_cpu_ms']:>19.3f}"
                    f"  {optional(r['peak_mb'], 11, 1)}  {load:>8.2f}"
                )
            per_round.append(ratios(rows))
    print("\nratios (exec/s ratio; process cpu ms/exec ratio), per round, then the median over rounds:")
    for name in per_round[0]:
        speeds = [r[name][0] for r in per_round]
        cpus = [r[name][1] for r in per_round]
        listed = "  ".join(f"{s:.3f}" for s in speeds)
        print(
            f"  {name:<12} exec/s: {listed}  median {statistics.median(speeds):.3f}"
            f"  |  cpu/exec median {statistics.median(cpus):.2f}x"
        )


if __name__ == "__main__":
    asyncio.run(main())
