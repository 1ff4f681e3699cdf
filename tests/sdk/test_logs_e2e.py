"""Following real executions run by the real engine, including across a server restart.

The restart test runs `python -m budai_server` as a subprocess, stops it with SIGTERM halfway through
an execution and starts it again on the same port and database: the follower reconnects and the
caller still sees every line once, in order, up to the end.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sdk_support import PipelineFactory, delay_step, fail_step, log_step

from budai_async import AsyncBudClient
from budai_async.logs import FollowOptions, execution_logs
from budai_async.models import ExecutionStatus, LogEntry

LISTENING = "budai-server listening on "
QUICK = FollowOptions(reconnect_base_seconds=0.02, reconnect_max_seconds=0.2, give_up_after_seconds=30.0)


def chain(count: int, seconds: float) -> list[dict[str, Any]]:
    """Steps that log and wait in turn, so an execution writes lines for a while."""
    steps: list[dict[str, Any]] = [log_step("start", "begin")]
    for i in range(count):
        steps.append(delay_step(f"wait{i}", seconds, depends_on=[steps[-1]["id"]]))
        steps.append(log_step(f"say{i}", f"step {i} done", depends_on=[f"wait{i}"]))
    return steps


async def follow(client: AsyncBudClient, execution_id: str) -> tuple[list[LogEntry], ExecutionStatus | None]:
    async with asyncio.timeout(30):
        async with execution_logs(client, execution_id, follow=True, options=QUICK) as stream:
            entries = [entry async for entry in stream]
    return entries, stream.status


def key(entries: list[LogEntry]) -> list[tuple[int, str, str | None]]:
    return [(entry.seq, entry.message, entry.step_id) for entry in entries]


async def test_following_a_real_execution_sees_what_the_store_keeps(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    retried = fail_step(
        "flaky",
        "nope",
        depends_on=["say2"],
        retry={"max_attempts": 2, "initial_delay_seconds": 0.01, "backoff_multiplier": 1.0},
    )
    pipeline = await make_pipeline(*chain(3, 0.02), retried, log_step("after", depends_on=["flaky"]))
    execution = await bud_client.executions.create(pipeline.id)
    entries, status = await follow(bud_client, execution.id)

    assert status == ExecutionStatus.FAILED
    assert [entry.seq for entry in entries] == list(range(1, len(entries) + 1))
    assert key(entries) == key(await bud_client.executions.logs(execution.id))
    messages = [entry.message for entry in entries]
    assert "begin" in messages and "step 2 done" in messages
    assert any("retry" in message.lower() for message in messages)
    assert any(entry.step_id == "after" and "skipped" in entry.message for entry in entries)
    assert entries[-1].message.startswith("execution failed")


async def test_many_followers_of_a_real_execution_agree(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    pipeline = await make_pipeline(*chain(5, 0.01))
    execution = await bud_client.executions.create(pipeline.id)
    results = await asyncio.gather(*(follow(bud_client, execution.id) for _ in range(10)))
    stored = key(await bud_client.executions.logs(execution.id))
    for entries, status in results:
        assert status == ExecutionStatus.COMPLETED
        assert key(entries) == stored


# ------------------------------------------------------------------ restart


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def server_process(db: Path, port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m budai_server` on `port`; running when entered, SIGTERM-stopped (then killed) on exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "budai_server",
        "--db",
        str(db),
        "--port",
        str(port),
        "--shutdown-grace-seconds",
        "0",
        "--log-level",
        "warning",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            while not (await process.stdout.readline()).decode().startswith(LISTENING):
                assert process.returncode is None, "the server exited before listening"
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.mark.slow
async def test_the_follower_resumes_across_a_server_restart(tmp_path: Path) -> None:
    db, port = tmp_path / "restart.db", free_port()
    base_url = f"http://127.0.0.1:{port}"
    seen: list[LogEntry] = []
    async with AsyncBudClient(base_url=base_url, max_retries=5, retry_initial_delay=0.05) as client:
        async with server_process(db, port) as first:
            pipeline = await client.pipelines.create(name="restart", definition={"steps": chain(12, 0.15)})
            execution = await client.executions.create(pipeline.id)
            stream = execution_logs(client, execution.id, follow=True, options=QUICK)
            lines = aiter(stream)
            async with asyncio.timeout(10):
                while len(seen) < 8:
                    seen.append(await anext(lines))
            first.send_signal(signal.SIGTERM)
            assert await first.wait() == 0
        async with server_process(db, port):
            async with asyncio.timeout(30):
                seen.extend([entry async for entry in lines])
            stored = await client.executions.logs(execution.id)
            final = await client.executions.get(execution.id)
    assert stream.reconnects >= 1
    assert stream.status == ExecutionStatus.COMPLETED == final.status
    assert [entry.seq for entry in seen] == list(range(1, len(seen) + 1))
    assert key(seen) == key(stored)
    assert any("server restarted" in entry.message for entry in seen)
    assert seen[-1].message == "execution completed"
