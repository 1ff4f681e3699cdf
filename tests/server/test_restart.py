"""Restart safety with the real server in a subprocess: SIGKILL mid-execution, then start again."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from api_support import steps_of
from process_support import call, server_process

pytestmark = pytest.mark.slow


async def poll(session: aiohttp.ClientSession, url: str, until: Any) -> Any:
    for _ in range(500):
        execution = await call(session, "GET", url)
        if until(execution):
            return execution
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition never met: {execution}")


DEFINITION = {
    "steps": [
        {"id": "first", "action": "log", "params": {"message": "before the crash"}},
        {"id": "slow", "action": "delay", "params": {"seconds": 0.8}, "depends_on": ["first"]},
        {
            "id": "last",
            "action": "transform",
            "params": {"input": "done", "operation": "uppercase"},
            "depends_on": ["slow"],
        },
    ],
    "outputs": {"result": "{{ steps.last.output.result }}"},
}


async def crash_mid_execution(session: aiohttp.ClientSession, db: Path) -> tuple[Any, Any]:
    """Start one running and one queued execution, then SIGKILL the server; return both (as seen)."""
    async with server_process(db, "--max-concurrent-executions", "1") as (process, url):
        pipeline = await call(
            session, "POST", f"{url}/budpipeline", json={"name": "p", "definition": DEFINITION}
        )
        running = await call(session, "POST", f"{url}/budpipeline/{pipeline['id']}/execute", json={})
        queued = await call(
            session, "POST", f"{url}/budpipeline/{pipeline['id']}/execute", json={"tags": ["q"]}
        )
        seen = await poll(
            session,
            f"{url}/budpipeline/executions/{running['id']}",
            lambda e: steps_of(e)["slow"]["status"] == "running",
        )
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert steps_of(seen)["first"]["status"] == "completed"
    return seen, queued


async def test_sigkill_mid_execution_resumes_after_restart(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    async with aiohttp.ClientSession() as session:
        seen, queued = await crash_mid_execution(session, db)
        async with server_process(db) as (_process, url):
            done = await call(
                session, "GET", f"{url}/budpipeline/executions/{seen['id']}", params={"wait": "20"}
            )
            assert done["status"] == "completed", done
            assert done["outputs"] == {"result": "DONE"}
            # The step that had finished before the crash was not run again; the interrupted one was.
            assert steps_of(done)["first"] == steps_of(seen)["first"]
            assert steps_of(done)["slow"]["started_at"] > steps_of(seen)["slow"]["started_at"]
            assert done["started_at"] == seen["started_at"]
            later = await call(
                session, "GET", f"{url}/budpipeline/executions/{queued['id']}", params={"wait": "20"}
            )
            assert later["status"] == "completed"
            listing = await call(
                session, "GET", f"{url}/budpipeline/executions", params={"status": "running,pending"}
            )
            assert listing["total"] == 0
            pipelines = await call(session, "GET", f"{url}/budpipeline")
            assert pipelines["total"] == 1


async def test_recovery_fail_ends_interrupted_executions_failed(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    async with aiohttp.ClientSession() as session:
        seen, queued = await crash_mid_execution(session, db)
        async with server_process(db, "--recovery", "fail") as (_process, url):
            failed = await call(session, "GET", f"{url}/budpipeline/executions/{seen['id']}")
            assert failed["status"] == "failed"
            assert "restarted" in failed["error"]
            assert steps_of(failed)["first"]["status"] == "completed"
            assert steps_of(failed)["slow"]["status"] == "failed"
            assert (steps_of(failed)["last"]["status"], steps_of(failed)["last"]["skip_reason"]) == (
                "skipped",
                "server_restarted",
            )
            # A queued execution never started, so it simply runs.
            later = await call(
                session, "GET", f"{url}/budpipeline/executions/{queued['id']}", params={"wait": "20"}
            )
            assert later["status"] == "completed"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_sigterm_shuts_down_cleanly(tmp_path: Path, signum: int) -> None:
    async with server_process(tmp_path / "term.db") as (process, url):
        async with aiohttp.ClientSession() as session:
            assert (await call(session, "GET", f"{url}/ready"))["status"] == "ready"
        process.send_signal(signum)
        async with asyncio.timeout(15):
            code = await process.wait()
        stderr = (await process.stderr.read()).decode() if process.stderr else ""
        assert code == 0, stderr
        assert "Traceback" not in stderr
