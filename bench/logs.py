"""Log streaming benchmark: throughput to one follower and emit-to-receive latency, vs the bare transport.

Not a test. Starts the real server (`python -m budai_server`) in a subprocess with this file loaded
as an action module (it registers `bench_log_burst`, an action that writes many log lines), runs a
log-heavy execution and follows it with the SDK (`client.executions.logs(..., follow=True)`) in this
process. Every line carries the CLOCK_MONOTONIC time of its emit, which is shared by all processes
on Linux, so the follower measures emit-to-receive latency directly.

Side by side in the same run, it measures what the transport alone can do: this file started again
as a bare aiohttp websocket server (``--serve-transport``, its own process like the real server)
that makes the same lines (same JSON shape and size, the same yield to the loop every `chunk`
lines, at most 1,000 lines per compressed text frame, whatever is pending) and pushes them to a
bare `websockets` client (`json.loads` of each frame only). No engine, no SQLite, no `LogEntry`.
Throughput rounds alternate between the two stacks; the medians and their ratio are reported.

Everything listens on 127.0.0.1 (port 0), every run is bounded by `--lines` / `--latency-seconds`
and by timeouts, and both servers are stopped at the end.

    .venv/bin/python bench/logs.py                      # 200,000 lines x 3 rounds; 5 s at 1,000 lines/s
    .venv/bin/python bench/logs.py --lines 500000 --latency-seconds 10 --rounds 1

Results and the machine they ran on go to docs/logs.md ("Benchmarks") and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from budai_server.actions.registry import ActionContext, ActionRegistry

BENCH_DIR = Path(__file__).resolve().parent
LISTENING = "budai-server listening on "
TRANSPORT_LISTENING = "transport listening on "
FRAME_MAX_LINES = 1000  # the server's `LogSettings.frame_max_lines` default
MAX_FRAME_BYTES = 16 * 1024 * 1024  # the SDK's `max_frame_bytes` default
RUN_TIMEOUT = 300.0  # no single burst or paced run may take longer than this


async def pace(lines: int, rate: float, chunk: int, emit: Callable[[int], None]) -> None:
    """Call `emit(i)` for every line, flat out (yielding every `chunk` lines) or at `rate` lines/s.

    Shared by the real action and the transport baseline, so both produce lines the same way.
    """
    if rate <= 0:
        for i in range(lines):
            emit(i)
            if i % chunk == chunk - 1:
                await asyncio.sleep(0)
        return
    started, sent = time.monotonic(), 0
    while sent < lines:  # paced: emit what is due, then sleep about one line's interval
        due = min(lines, int((time.monotonic() - started) * rate) + 1)
        while sent < due:
            emit(sent)
            sent += 1
        await asyncio.sleep(1.0 / rate)


# ---------------------------------------------------------------- the action (runs in the server)


def register(registry: ActionRegistry) -> None:
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
    async def burst(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        lines, rate, chunk = int(params["lines"]), float(params.get("rate", 0)), int(params.get("chunk", 500))
        info, clock = ctx.log.info, time.monotonic_ns
        await pace(lines, rate, chunk, lambda i: info(f"bench {i} {clock()}"))
        return {"lines": lines}


# ---------------------------------------------------------------- the transport baseline (its own process)


def serve_transport() -> None:
    """Run the bare aiohttp websocket server on 127.0.0.1 until terminated (`--serve-transport`).

    `GET /stream?lines=N&rate=R&chunk=C` makes N lines shaped like the server's wire lines and
    sends them as the real stream route does: JSON text frames ``{"type": "lines", "items": [...]}``
    of at most 1,000 pending lines, permessage-deflate when offered, then one `end` frame and 1000.
    """
    from aiohttp import web

    from budai_server.logs.store import format_timestamp

    async def stream(request: web.Request) -> web.WebSocketResponse:
        lines = int(request.query["lines"])
        rate, chunk = float(request.query.get("rate", 0)), int(request.query.get("chunk", 500))
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=64 * 1024, compress=True)
        await ws.prepare(request)
        pending: list[dict[str, Any]] = []
        ready = asyncio.Event()
        clock = time.monotonic_ns

        def emit(i: int) -> None:
            pending.append(
                {
                    "seq": i + 1,
                    "timestamp": format_timestamp(time.time()),
                    "level": "info",
                    "step_id": "burst",
                    "message": f"bench {i} {clock()}",
                    "execution_id": "exe_transport_baseline",
                }
            )
            ready.set()

        producer = asyncio.ensure_future(pace(lines, rate, chunk, emit))
        try:
            while True:
                if pending:  # what is pending, at most 1,000 lines a frame (the real `_Sender.lines`)
                    batch, pending[:FRAME_MAX_LINES] = pending[:FRAME_MAX_LINES], []
                    await ws.send_str(json.dumps({"type": "lines", "items": batch}, separators=(",", ":")))
                    continue
                if producer.done():
                    producer.result()  # surface a failure of the producer
                    break
                ready.clear()
                waiter = asyncio.ensure_future(ready.wait())
                await asyncio.wait([producer, waiter], return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
            await ws.send_str(json.dumps({"type": "end", "status": "completed", "last_seq": lines}))
            await ws.close(code=1000, message=b"end")
        finally:
            producer.cancel()
        return ws

    app = web.Application()
    app.router.add_get("/stream", stream)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"{TRANSPORT_LISTENING}http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)


# ---------------------------------------------------------------- the driver (runs here)


async def start_process(args: list[str], ready_prefix: str) -> tuple[asyncio.subprocess.Process, str]:
    """Start a server subprocess; wait for its ``<ready_prefix><url>`` line; return it and the URL."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), os.environ.get("PYTHONPATH", "")])}
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, env=env
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            while True:
                line = (await process.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"{args} exited before listening")
                if line.startswith(ready_prefix):
                    return process, line[len(ready_prefix) :].strip()
    except BaseException:
        await stop(process)
        raise


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(15):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


async def follow_burst(base_url: str, params: dict[str, Any]) -> tuple[list[int], list[int], int, int]:
    """Run one `bench_log_burst` execution and follow it.

    Returns (emit ns, receive ns) of its lines, reconnects, and forced closes (4008: the server
    closed the stream for lagging).
    """
    from budai_async import AsyncBudClient
    from budai_async.logs import execution_logs

    emitted: list[int] = []
    received: list[int] = []
    clock = time.monotonic_ns
    async with AsyncBudClient(base_url=base_url) as client, asyncio.timeout(RUN_TIMEOUT):
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
        return emitted, received, stream.reconnects, stream.lagging_closes


async def follow_transport(base_url: str, params: dict[str, Any]) -> tuple[list[int], list[int], int, int]:
    """Follow the bare server's stream with a bare `websockets` client; same return as `follow_burst`."""
    from urllib.parse import urlencode

    from websockets.asyncio.client import connect

    emitted: list[int] = []
    received: list[int] = []
    clock = time.monotonic_ns
    url = base_url.replace("http://", "ws://", 1) + "/stream?" + urlencode(params)
    # The SDK's connection settings: no pings, 16 MiB frames, at most 4 frames queued.
    async with (
        asyncio.timeout(RUN_TIMEOUT),
        connect(url, proxy=None, ping_interval=None, max_size=MAX_FRAME_BYTES, max_queue=4) as ws,
    ):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "end":
                break
            for item in frame["items"]:
                received.append(clock())
                emitted.append(int(item["message"].rsplit(" ", 1)[1]))
    return emitted, received, 0, 0


Follow = Callable[[str, dict[str, Any]], Awaitable[tuple[list[int], list[int], int, int]]]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def throughput(follow: Follow, url: str, pid: int, lines: int) -> dict[str, Any]:
    """One flat-out burst of `lines`, first emit to last receive, with both sides' CPU."""
    load = os.getloadavg()[0]
    server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
    emitted, received, reconnects, forced = await follow(url, {"lines": lines})
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
    if len(received) != lines:
        raise RuntimeError(f"followed {len(received)} of {lines} lines")
    elapsed = (received[-1] - emitted[0]) / 1e9
    return {
        "lines": lines,
        "seconds": elapsed,
        "lines_per_second": lines / elapsed,
        "reconnects": reconnects,
        "forced_closes": forced,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "load": load,
    }


async def latency(follow: Follow, url: str, rate: float, seconds: float) -> dict[str, Any]:
    """A paced run at `rate` lines/s for `seconds`: emit-to-receive p50 / p99 / max in ms."""
    paced = int(rate * seconds)
    load = os.getloadavg()[0]
    emitted, received, reconnects, _forced = await follow(url, {"lines": paced, "rate": rate})
    if len(received) != paced:
        raise RuntimeError(f"followed {len(received)} of {paced} lines")
    latencies = [(r - e) / 1e6 for e, r in zip(emitted, received, strict=True)]
    return {
        "lines": paced,
        "rate": rate,
        "p50_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies),
        "reconnects": reconnects,
        "load": load,
    }


async def run(lines: int, rounds: int, latency_rate: float, latency_seconds: float) -> dict[str, Any]:
    """Start both servers, alternate throughput rounds between them, then one paced run on each."""
    with tempfile.TemporaryDirectory() as tmp:
        server_args = ["-m", "budai_server", "--db", str(Path(tmp) / "bench.db"), "--host", "127.0.0.1"]
        server_args += ["--port", "0", "--actions", "logs", "--log-level", "warning"]
        # The default rate limit lets a burst of 200,000 lines through; a longer one would drop
        # lines, so the limits are raised to fit (they are still checked for every line).
        server_args += ["--limit", f"max_log_lines_per_second={max(200_000, lines)}"]
        server_args += ["--limit", f"max_log_lines_per_execution={max(1_000_000, lines)}"]
        ours, ours_url = await start_process(server_args, LISTENING)
        try:
            bare, bare_url = await start_process([__file__, "--serve-transport"], TRANSPORT_LISTENING)
            try:
                stacks = {
                    "budai": (follow_burst, ours_url, ours.pid),
                    "transport": (follow_transport, bare_url, bare.pid),
                }
                rows: dict[str, list[dict[str, Any]]] = {name: [] for name in stacks}
                for _ in range(rounds):
                    for name, (follow, url, pid) in stacks.items():
                        rows[name].append(await throughput(follow, url, pid, lines))
                paced = {
                    name: await latency(follow, url, latency_rate, latency_seconds)
                    for name, (follow, url, _pid) in stacks.items()
                }
            finally:
                await stop(bare)
        finally:
            await stop(ours)
    return {"throughput": rows, "latency": paced}


def report(result: dict[str, Any], command: str) -> None:
    rows: dict[str, list[dict[str, Any]]] = result["throughput"]
    paced: dict[str, dict[str, Any]] = result["latency"]
    lines = rows["budai"][0]["lines"]
    print(f"$ {command}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"throughput: {lines:,} lines per round, flat out, first emit to last receive, one follower")
    print(
        "round  stack       lines/s  seconds  reconnects  forced closes  server CPU s  client CPU s  load avg"
    )
    for index in range(len(rows["budai"])):
        for name in rows:
            t = rows[name][index]
            print(
                f"{index + 1:>5}  {name:<9}  {t['lines_per_second']:>9,.0f}  {t['seconds']:>7.2f}"
                f"  {t['reconnects']:>10}  {t['forced_closes']:>13}"
                f"  {t['server_cpu']:>12.2f}  {t['client_cpu']:>12.2f}"
                f"  {t['load']:>8.2f}"
            )
    medians = {name: statistics.median(t["lines_per_second"] for t in rows[name]) for name in rows}
    ratios = [b["lines_per_second"] / t["lines_per_second"] for b, t in zip(*rows.values(), strict=True)]
    forced = sum(t["forced_closes"] for t in rows["budai"])
    print(f"forced closes (4008) of the budai follower over all rounds: {forced}")
    cpu = {
        name: 1e6 * statistics.median((t["server_cpu"] + t["client_cpu"]) / t["lines"] for t in rows[name])
        for name in rows
    }
    print(
        f"median: budai {medians['budai']:,.0f} lines/s, transport {medians['transport']:,.0f} lines/s; "
        f"budai/transport per round {' '.join(f'{r:.2f}' for r in ratios)}, "
        f"median {statistics.median(ratios):.2f} (target >= 0.5 of the transport, 0 forced closes)"
    )
    print(
        f"CPU per line (server + client, median): budai {cpu['budai']:.1f} µs, "
        f"transport {cpu['transport']:.1f} µs ({cpu['budai'] / cpu['transport']:.2f}x)"
    )
    first = paced["budai"]
    print(f"latency at {first['rate']:,.0f} lines/s ({first['lines']:,} lines), emit to receive:")
    for name, lat in paced.items():
        print(
            f"  {name:<9}  p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, max {lat['max_ms']:.2f} ms"
            f"  ({lat['reconnects']} reconnects, load avg {lat['load']:.2f})"
        )
    print(
        f"  budai/transport p99 {first['p99_ms'] / paced['transport']['p99_ms']:.1f}x, "
        f"p50 {first['p50_ms'] / paced['transport']['p50_ms']:.1f}x (target budai p99 <= 50 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=200_000, help="lines of each flat-out burst")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per stack")
    parser.add_argument("--latency-rate", type=float, default=1000.0, help="lines/s of the paced run")
    parser.add_argument("--latency-seconds", type=float, default=5.0, help="length of the paced run")
    parser.add_argument("--serve-transport", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_transport:
        serve_transport()
        return
    result = asyncio.run(run(args.lines, args.rounds, args.latency_rate, args.latency_seconds))
    report(result, " ".join(["python bench/logs.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
