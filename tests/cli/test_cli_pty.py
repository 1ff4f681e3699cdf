"""The `budai` CLI in a real pseudo-terminal (pexpect): the live status line of `run --wait`, Ctrl-C
that names the execution and how to resume (exit 130), `logs -f` saying it reconnects, and server
strings that look like rich markup printed as they are.

The in-process server runs in the test's event loop; each terminal session is driven from a worker
thread. The reconnect case runs the server as a process, so it can be killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pexpect
import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSI = r"(?:\x1b\[[0-9;?]*[A-Za-z])*"
EVIL = "[bold red]evil[/] [/oops]"


def spawn(url: str, *args: str) -> pexpect.spawn:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BUDAI_BASE_URL": url, "TERM": "xterm", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    return pexpect.spawn(
        sys.executable,
        ["-c", "from budai_async._entry import budai; budai()", *args],
        env=env,
        dimensions=(30, 120),
        encoding="utf-8",
        timeout=30,
    )


def finish(child: pexpect.spawn) -> tuple[int, str]:
    """Read to the end; the exit status and everything printed before it."""
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.before


def budai_json(url: str, *args: str) -> Any:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BUDAI_BASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", "from budai_async._entry import budai; budai()", "-o", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def pipeline_file(tmp_path: Path, *steps: dict[str, Any], name: str = "pty") -> str:
    path = tmp_path / f"{name.replace('/', '_').replace(' ', '_')}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "definition": {"steps": list(steps)}}))
    return str(path)


SLEEPY = {"id": "sleepy", "action": "delay", "params": {"seconds": 2}}
HELLO = {"id": "hello", "action": "log", "params": {"message": "hello from the pty"}}


async def test_markup_in_server_strings_is_printed_verbatim(bud_url: str, tmp_path: Path) -> None:
    path = pipeline_file(tmp_path, HELLO, name=EVIL)

    def session() -> tuple[tuple[int, str], tuple[int, str]]:
        created = finish(spawn(bud_url, "pipelines", "create", path))
        listed = finish(spawn(bud_url, "pipelines", "list"))
        return created, listed

    (created_status, created_out), (listed_status, listed_out) = await asyncio.to_thread(session)
    assert created_status == 0, created_out
    assert listed_status == 0, listed_out
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", listed_out)
    assert EVIL in plain
    assert "MarkupError" not in created_out + listed_out


async def test_run_wait_shows_a_live_status_line_on_a_terminal(bud_url: str, tmp_path: Path) -> None:
    pipeline = await asyncio.to_thread(
        budai_json, bud_url, "pipelines", "create", pipeline_file(tmp_path, SLEEPY)
    )

    def session() -> tuple[int, str, str]:
        child = spawn(bud_url, "run", pipeline["id"], "--wait")
        child.expect(rf"exec_\w+{ANSI}\s+{ANSI}running{ANSI}\s+{ANSI}\d+%{ANSI}\s+step: {ANSI}sleepy")
        live = child.after
        status, rest = finish(child)
        return status, live, rest

    status, live, rest = await asyncio.to_thread(session)
    assert status == 0, rest
    assert "sleepy" in live
    assert "completed" in rest


async def test_ctrl_c_during_run_wait_names_the_execution_and_how_to_resume(
    bud_url: str, tmp_path: Path
) -> None:
    long = {"id": "sleepy", "action": "delay", "params": {"seconds": 60}}
    pipeline = await asyncio.to_thread(
        budai_json, bud_url, "pipelines", "create", pipeline_file(tmp_path, long)
    )

    def session() -> tuple[int, str, str]:
        child = spawn(bud_url, "run", pipeline["id"], "--wait")
        child.expect(rf"(exec_\w+){ANSI}\s+{ANSI}running")
        execution_id = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.match.group(1))
        child.sendintr()
        status, out = finish(child)
        return status, out, execution_id

    status, out, execution_id = await asyncio.to_thread(session)
    assert status == 130, out
    assert "interrupted" in out
    assert f"budai executions wait {execution_id}" in out
    assert f"budai executions cancel {execution_id}" in out
    assert "Traceback" not in out
    shown = await asyncio.to_thread(budai_json, bud_url, "executions", "cancel", execution_id)
    assert shown[0]["status"] == "cancelled" if isinstance(shown, list) else shown["status"] == "cancelled"


@contextmanager
def server_process(db: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with subprocess.Popen(
        [sys.executable, "-m", "budai_server", "--db", str(db), "--port", "0", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as process:
        try:
            assert process.stdout is not None
            url = ""
            for line in process.stdout:
                if line.startswith("budai-server listening on "):
                    url = line.split(" on ", 1)[1].strip()
                    break
            assert url, "the server did not start"
            yield process, url
        finally:
            process.kill()
            process.wait()


def test_logs_follow_says_when_it_reconnects_and_ctrl_c_says_how_to_resume(tmp_path: Path) -> None:
    long = {"id": "sleepy", "action": "delay", "params": {"seconds": 60}, "depends_on": ["hello"]}
    with server_process(tmp_path / "budai.db") as (server, url):
        pipeline = budai_json(url, "pipelines", "create", pipeline_file(tmp_path, HELLO, long))
        execution = budai_json(url, "run", pipeline["id"])
        child = spawn(url, "logs", "-f", execution["id"])
        child.expect("hello from the pty")
        server.kill()
        server.wait()
        child.expect(r"reconnect\w* .*log stream ws://127\.0\.0\.1")
        child.sendintr()
        status, out = finish(child)
    assert status == 130, out
    assert re.search(rf"budai logs -f {execution['id']} --after-seq [1-9]\d*", out), out
    assert "Traceback" not in out


async def test_ctrl_c_during_batch_names_the_batch_key_to_resume_with(bud_url: str, tmp_path: Path) -> None:
    long = {"id": "sleepy", "action": "delay", "params": {"seconds": 60}}
    pipeline = await asyncio.to_thread(
        budai_json, bud_url, "pipelines", "create", pipeline_file(tmp_path, long)
    )
    params = tmp_path / "params.jsonl"
    params.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(5)))

    def session() -> tuple[int, str]:
        child = spawn(bud_url, "batch", pipeline["id"], "--params-file", str(params), "--wait")
        child.expect("running")
        child.sendintr()
        return finish(child)

    status, out = await asyncio.to_thread(session)
    assert status == 130, out
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    match = re.search(
        r"resume without duplicates: budai batch (\S+) --params-file (\S+) --wait --batch-key (batch_\w+)",
        plain,
    )
    assert match, plain
    assert match.group(1) == pipeline["id"]
    assert "Traceback" not in out
