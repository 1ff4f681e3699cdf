"""Load generator for the webhook receiver (not a test): throughput and paced ack latency.

Starts, on 127.0.0.1 only, (1) a plain aiohttp app that reads the body and answers 200 and (2) the
receiver (``python -m receiver``, SQLite store in a temporary directory, one no-op handler), each in
its own process, and drives both from this process with the same pre-signed requests:

- throughput: `--rounds` rounds of `--requests` POSTs at `--concurrency` in flight (each round
  bounded by `--max-seconds`), alternating between the two servers; the median round is reported;
- latency: a paced `--rate` per second for `--paced-seconds`, reporting p50/p90/p99/max.

The headline is capacity per server CPU-second: the server process's CPU (all threads, from /proc)
from a round's first request until the work it caused is done (the receiver dispatches handlers
after acknowledging, so that CPU counts too), per request, against the plain app's. On this 2-core
machine the load generator, not the plain app, sets the wall-clock ceiling, and background load
moves wall time much more than CPU time. `--redis URL` adds the receiver on a Redis store.

Every request is bounded in count and time; the run stops by itself. Usage:

    .venv/bin/python bench/receiver.py [--requests 10000] [--rounds 3] [--concurrency 64] [--rate 1000]
        [--paced-seconds 3] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from budai_async.webhooks import generate_secret, signature_headers

HANDLERS = """
from receiver import Handlers

handlers = Handlers()

@handlers.on("execution.*", name="noop")
async def noop(event):
    return None
"""

PLAIN_APP = """
import sys
from aiohttp import web

async def ok(request):
    await request.read()
    return web.Response(status=200, body=b'{"status":"ok"}', content_type="application/json")

async def ready(request):
    return web.Response(text="ok")

app = web.Application()
app.router.add_post("/webhooks", ok)
app.router.add_get("/readyz", ready)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

Request = tuple[bytes, dict[str, str]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_requests(secret: str, count: int) -> list[Request]:
    """Signed deliveries with distinct ids, shaped like the server's callbacks (~300 bytes)."""
    now = int(time.time())
    requests = []
    for _ in range(count):
        msg_id = f"msg_{uuid.uuid4().hex}"
        body = json.dumps(
            {
                "type": "execution.completed",
                "execution_id": f"exec_{uuid.uuid4().hex}",
                "pipeline_id": "pipe_bench",
                "status": "completed",
                "outputs": {"deployment_id": "dep_123", "endpoint_url": "http://127.0.0.1/v1"},
                "error": None,
                "tags": ["bench"],
                "completed_at": "2025-01-01T00:00:00Z",
            }
        ).encode()
        headers = signature_headers(secret, msg_id, body, now)
        headers["Content-Type"] = "application/json"
        requests.append((body, headers))
    return requests


async def wait_ready(session: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            async with session.get(url + "/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise SystemExit(f"{url} not ready")


async def throughput(
    session: aiohttp.ClientSession, url: str, requests: list[Request], concurrency: int, max_seconds: float
) -> dict[str, Any]:
    """Send `requests` with `concurrency` workers; returns requests/s and the status counts."""
    statuses: Counter[int] = Counter()
    queue = iter(requests)
    deadline = time.monotonic() + max_seconds

    async def worker() -> None:
        for body, headers in queue:
            if time.monotonic() > deadline:
                return
            async with session.post(url + "/webhooks", data=body, headers=headers) as response:
                await response.read()
                statuses[response.status] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    done = sum(statuses.values())
    return {
        "requests": done,
        "seconds": round(elapsed, 3),
        "per_second": round(done / elapsed, 1),
        **{f"status_{code}": count for code, count in sorted(statuses.items())},
    }


async def paced(
    session: aiohttp.ClientSession, url: str, requests: list[Request], rate: float
) -> dict[str, float]:
    """Send one request every 1/`rate` s (open loop) and report latency percentiles in ms."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    async def one(body: bytes, headers: dict[str, str]) -> None:
        sent = time.perf_counter()
        async with session.post(url + "/webhooks", data=body, headers=headers) as response:
            await response.read()
        latencies.append((time.perf_counter() - sent) * 1000)
        statuses[response.status] += 1

    tasks = []
    start = time.perf_counter()
    for index, (body, headers) in enumerate(requests):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(body, headers)))
    await asyncio.gather(*tasks)
    achieved = len(requests) / (time.perf_counter() - start)
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "achieved_rate": round(achieved, 1),
        "p50_ms": round(cuts[49], 2),
        "p90_ms": round(cuts[89], 2),
        "p99_ms": round(cuts[98], 2),
        "max_ms": round(max(latencies), 2),
        **{f"status_{code}": count for code, count in sorted(statuses.items())},
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """A server process under test; stopped (SIGTERM, then SIGKILL) by `close`."""

    def __init__(
        self, name: str, command: list[str], port: int, cwd: str, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        # cwd: a directory with no receiver.py in it (this file is one), so -m finds the package
        self.proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def settle_cpu(session: aiohttp.ClientSession, server: Server, max_seconds: float = 10.0) -> None:
    """Wait until the server has finished the work the round left behind (the receiver dispatches
    handlers after acknowledging): its queue is empty and nothing is in flight, or, for the plain
    app, its CPU time has stopped moving."""
    deadline = time.monotonic() + max_seconds
    last = cpu_seconds(server.proc.pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        if server.name != "plain_aiohttp":
            async with session.get(server.url + "/metrics") as response:
                text = await response.text()
            gauges = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and line[0] != "#")
            if (
                float(gauges.get("budai_receiver_queue_depth", 1)) == 0
                and float(gauges.get("budai_receiver_in_flight", 1)) == 0
            ):
                return
        else:
            now = cpu_seconds(server.proc.pid)
            if now == last:
                return
            last = now


async def run(servers: list[Server], args: argparse.Namespace, secret: str) -> dict[str, dict[str, Any]]:
    """Alternate throughput rounds between the servers (so background load hits both alike), then
    measure paced latency on each. Each round's server CPU runs from its first request until the
    work it caused is done (handlers dispatched after the acks count too)."""
    results: dict[str, dict[str, Any]] = {server.name: {"rounds": []} for server in servers}
    connector = aiohttp.TCPConnector(limit=max(args.concurrency, 256))
    async with aiohttp.ClientSession(connector=connector) as session:
        for server in servers:
            await wait_ready(session, server.url, server.proc)
            await throughput(
                session, server.url, make_requests(secret, 1000), args.concurrency, 10
            )  # warm-up
            await settle_cpu(session, server)
        for _ in range(args.rounds):
            for server in servers:
                requests = make_requests(secret, args.requests)
                cpu_before = cpu_seconds(server.proc.pid)
                outcome = await throughput(session, server.url, requests, args.concurrency, args.max_seconds)
                in_round = cpu_seconds(server.proc.pid) - cpu_before
                await settle_cpu(session, server)
                cpu = cpu_seconds(server.proc.pid) - cpu_before
                outcome["server_cpu_seconds"] = round(cpu, 3)
                outcome["server_cpu_after_round"] = round(cpu - in_round, 3)
                outcome["server_cpu_us_per_request"] = round(cpu / outcome["requests"] * 1e6, 1)
                outcome["per_server_cpu_second"] = round(outcome["requests"] / cpu, 1) if cpu else None
                outcome["load"] = round(os.getloadavg()[0], 2)
                results[server.name]["rounds"].append(outcome)
        for server in servers:
            result = results[server.name]
            result["per_second_median"] = statistics.median(r["per_second"] for r in result["rounds"])
            result["cpu_us_median"] = statistics.median(
                r["server_cpu_us_per_request"] for r in result["rounds"]
            )
            count = int(args.rate * args.paced_seconds)
            if count:
                result["paced"] = await paced(session, server.url, make_requests(secret, count), args.rate)
    return results


def report(results: dict[str, dict[str, Any]], command: str) -> None:
    """Rounds, then each receiver's capacity as a share of the plain app's, per server CPU-second."""
    print(f"$ {command}")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(
        f"{'round':>5}  {'server':<16} {'req/s':>7} {'statuses':<18} {'server CPU s':>12} "
        f"{'of it after':>11} {'CPU µs/req':>10} {'load':>5}"
    )
    names = list(results)
    for index in range(len(results[names[0]]["rounds"])):
        for name in names:
            r = results[name]["rounds"][index]
            statuses = ",".join(f"{k[7:]}:{v}" for k, v in r.items() if k.startswith("status_"))
            print(
                f"{index + 1:>5}  {name:<16} {r['per_second']:>7.0f} {statuses:<18} "
                f"{r['server_cpu_seconds']:>12.2f} {r['server_cpu_after_round']:>11.2f} "
                f"{r['server_cpu_us_per_request']:>10.1f} {r['load']:>5.2f}"
            )
    plain = results["plain_aiohttp"]
    for name in names[1:]:
        rx = results[name]
        per_round = [
            p["server_cpu_us_per_request"] / r["server_cpu_us_per_request"]
            for p, r in zip(plain["rounds"], rx["rounds"], strict=True)
        ]
        print(
            f"{name}: {rx['cpu_us_median']:.0f} µs server CPU per stored + acked + dispatched callback "
            f"(plain app {plain['cpu_us_median']:.0f} µs); capacity per server CPU-second "
            f"{' '.join(f'{c:.2f}' for c in per_round)} of the plain app, median "
            f"{statistics.median(per_round):.2f}; wall-clock req/s {rx['per_second_median']:.0f} "
            f"vs {plain['per_second_median']:.0f} "
            f"({rx['per_second_median'] / plain['per_second_median']:.2f})"
        )
    for name in names:
        paced_result = results[name].get("paced")
        if paced_result:
            print(
                f"paced {name}: {paced_result['achieved_rate']:.0f}/s, p50 {paced_result['p50_ms']} ms, "
                f"p99 {paced_result['p99_ms']} ms, max {paced_result['max_ms']} ms"
            )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def delete_keys(url: str, prefix: str) -> None:
    """Remove the keys the Redis receiver wrote under the bench's own prefix."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000, help="requests per throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per server")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--max-seconds", type=float, default=30.0, help="cap on one throughput round")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced requests per second")
    parser.add_argument("--paced-seconds", type=float, default=3.0, help="0 skips the paced run")
    parser.add_argument("--redis", default="", help="also measure the receiver on this Redis URL")
    parser.add_argument(
        "--baseline-src",
        default="",
        help="also measure the SQLite receiver of another checkout (e.g. the main branch) in the same run",
    )
    args = parser.parse_args()
    secret = generate_secret()
    with tempfile.TemporaryDirectory() as workdir:
        Path(workdir, "bench_handlers.py").write_text(HANDLERS)
        Path(workdir, "plain_app.py").write_text(PLAIN_APP)
        os.environ["PYTHONPATH"] = os.pathsep.join([workdir, os.environ.get("PYTHONPATH", "")])
        plain_port = free_port()
        servers = [
            Server(
                "plain_aiohttp",
                [sys.executable, str(Path(workdir, "plain_app.py")), str(plain_port)],
                plain_port,
                workdir,
            )
        ]
        if args.baseline_src:
            port = free_port()
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([workdir, args.baseline_src])}
            command = [
                sys.executable, "-m", "receiver", "--secret", secret, "--handlers", "bench_handlers:handlers",
                "--store", f"sqlite:///{workdir}/baseline.db", "--port", str(port), "--log-level", "WARNING",
                "--queue-limit", "100000",
            ]  # fmt: skip
            servers.append(Server("baseline_sqlite", command, port, workdir, env))
        stores = [("receiver_sqlite", f"sqlite:///{workdir}/bench.db")]
        prefix = f"budai-bench:{uuid.uuid4().hex}:"  # a key space of its own, deleted at the end
        if args.redis:
            joiner = "&" if "?" in args.redis else "?"
            stores.append(("receiver_redis", f"{args.redis}{joiner}prefix={prefix}&retention=600"))
        for name, store in stores:
            port = free_port()
            receiver_cmd = [
                sys.executable, "-m", "receiver", "--secret", secret, "--handlers", "bench_handlers:handlers",
                "--store", store, "--port", str(port), "--log-level", "WARNING", "--queue-limit", "100000",
            ]  # fmt: skip
            servers.append(Server(name, receiver_cmd, port, workdir))
        try:
            results = asyncio.run(run(servers, args, secret))
        finally:
            for server in servers:
                server.close()
            if args.redis:
                delete_keys(args.redis, prefix)
    report(results, " ".join(["python bench/receiver.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
