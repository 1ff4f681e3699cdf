"""`python -m budai_server` options: custom actions, API key from the environment, start failures."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aiohttp
from process_support import call, server_process

ACTIONS_MODULE = """
async def greet(params, ctx):
    return {"greeting": "hello " + params["name"]}


def register(registry):
    registry.action(
        "greet",
        description="Say hello.",
        params={"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        outputs=("greeting",),
    )(greet)
"""


async def test_actions_module_adds_custom_actions(tmp_path: Path) -> None:
    (tmp_path / "my_actions.py").write_text(ACTIONS_MODULE)
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    async with (
        server_process(tmp_path / "a.db", "--actions", "my_actions", env=env) as (_process, url),
        aiohttp.ClientSession() as session,
    ):
        entry = await call(session, "GET", f"{url}/budpipeline/actions/greet")
        assert (entry["type"], entry["outputs"], entry["category"]) == ("greet", ["greeting"], "custom")
        definition = {"steps": [{"id": "hi", "action": "greet", "params": {"name": "{{ params.who }}"}}]}
        created = await call(
            session,
            "POST",
            f"{url}/budpipeline/run",
            json={"pipeline_definition": definition, "params": {"who": "bud"}},
        )
        done = await call(
            session, "GET", f"{url}/budpipeline/executions/{created['id']}", params={"wait": "10"}
        )
        assert (done["status"], done["outputs"]) == ("completed", {"greeting": "hello bud"})
        async with session.post(
            f"{url}/budpipeline/validate", json={"definition": {"steps": [{"id": "x", "action": "greet"}]}}
        ) as response:
            result = await response.json()
        assert result["valid"] is False  # `name` is required by the custom schema


async def test_api_key_from_the_environment(tmp_path: Path) -> None:
    env = {"BUDAI_SERVER_API_KEY": "from-env"}
    async with (
        server_process(tmp_path / "k.db", env=env) as (_process, url),
        aiohttp.ClientSession() as session,
    ):
        async with session.get(f"{url}/budpipeline") as response:
            assert response.status == 401
        async with session.get(
            f"{url}/budpipeline", headers={"Authorization": "Bearer from-env"}
        ) as response:
            assert response.status == 200


async def exit_of(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "budai_server",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        _stdout, stderr = await process.communicate()
    return int(process.returncode or 0), stderr.decode()


async def test_a_missing_actions_module_stops_the_start_cleanly(tmp_path: Path) -> None:
    code, stderr = await exit_of(
        "--db", str(tmp_path / "m.db"), "--port", "0", "--actions", "no_such_module_xyz"
    )
    assert code == 1
    assert "cannot start" in stderr and "no_such_module_xyz" in stderr
    assert "Traceback" not in stderr


async def test_a_busy_port_stops_the_start_cleanly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, stderr = await exit_of("--db", str(tmp_path / "p.db"), "--port", str(port))
    assert code == 1
    assert "cannot start" in stderr and "Traceback" not in stderr


async def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    code, stderr = await exit_of("--max-concurrent-executions", "0")
    assert code == 2 and "max-concurrent-executions" in stderr
    code, stderr = await exit_of(
        "--fault-503-rate", "0.8", "--fault-429-rate", "0.5", "--db", str(tmp_path / "f.db")
    )
    assert code == 2 and "fault" in stderr


async def test_the_server_process_freezes_its_start_up_heap_and_collects_less_often() -> None:
    # In a child interpreter: freezing the test process's own heap would outlive this test.
    script = (
        "import gc; from budai_server.cli import _tune_gc; _tune_gc(); "
        "print(gc.get_freeze_count() > 10_000, gc.get_threshold())"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    assert out.decode().split(maxsplit=1) == ["True", "(5000, 10, 10)\n"]
