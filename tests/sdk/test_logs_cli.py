"""`budai logs` through click's CliRunner against the real server.

The server runs in the test's event loop; the CLI runs on a worker thread with its own
`asyncio.run`, as it would in a terminal.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from click.testing import CliRunner, Result

from budai_async.cli.logs import logs_command
from budai_async.models import ExecutionStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))  # the shared log-app helpers
from logs_support import Driver, eventually, with_log_settings


@pytest.fixture
def server_app(server_app: web.Application) -> web.Application:
    return with_log_settings(server_app)


@pytest.fixture
def driver(bud_server: TestServer) -> Driver:
    return Driver(bud_server.app)


async def budai_logs(url: str, *args: str) -> Result:
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, logs_command, list(args), env={"BUDAI_BASE_URL": url, "COLUMNS": "200"}
    )


async def ended_execution(driver: Driver) -> str:
    execution_id = await driver.create()
    driver.emit(execution_id, 2, level="debug", step_id="prep")
    driver.emit(execution_id, 1, level="warning", step_id="deploy")
    driver.bus.emit(execution_id, "error", "cluster [bold]unreachable[/bold]", "deploy")
    await driver.finish(execution_id, ExecutionStatus.FAILED)
    return execution_id


async def test_prints_every_line_with_level_step_and_message(driver: Driver, bud_url: str) -> None:
    execution_id = await ended_execution(driver)
    result = await budai_logs(bud_url, execution_id)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 5
    assert "DEBUG" in lines[0] and "prep" in lines[0] and "line 0" in lines[0]
    assert "ERROR" in lines[3] and "deploy" in lines[3]
    assert "cluster [bold]unreachable[/bold]" in lines[3]  # messages are never read as markup
    assert "execution failed" in lines[4]


async def test_filters_and_json_lines(driver: Driver, bud_url: str) -> None:
    execution_id = await ended_execution(driver)
    result = await budai_logs(bud_url, execution_id, "--level", "warning", "--step", "deploy", "-o", "json")
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in result.output.splitlines()]
    assert [(e["seq"], e["level"], e["step_id"]) for e in entries] == [
        (3, "warning", "deploy"),
        (4, "error", "deploy"),
    ]
    result = await budai_logs(bud_url, execution_id, "--since", "1h", "-o", "json")
    assert len(result.output.splitlines()) == 5


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (ExecutionStatus.COMPLETED, 0),
        (ExecutionStatus.FAILED, 1),
        (ExecutionStatus.CANCELLED, 2),
        (ExecutionStatus.TIMEOUT, 2),
    ],
)
async def test_follow_exits_when_the_execution_ends_with_its_status(
    driver: Driver, bud_url: str, status: ExecutionStatus, code: int
) -> None:
    execution_id = await driver.create()
    driver.emit(execution_id, 3)
    follower = asyncio.create_task(budai_logs(bud_url, execution_id, "-f", "--output", "json"))
    await eventually(lambda: driver.subscribers(execution_id) == 1)
    driver.emit(execution_id, 4)
    await driver.finish(execution_id, status)
    result = await asyncio.wait_for(follower, 10)
    assert result.exit_code == code, result.output
    seqs = [json.loads(line)["seq"] for line in result.output.splitlines()]
    assert seqs == list(range(1, 9))


async def test_unknown_execution_exits_4_with_a_message(bud_url: str, driver: Driver) -> None:
    for args in (["exec_nope"], ["exec_nope", "-f"]):
        result = await budai_logs(bud_url, *args)
        assert result.exit_code == 4
        assert "not found" in result.output


@pytest.mark.parametrize(("option", "value"), [("--since", "soon"), ("--level", "loud")])
async def test_bad_options_are_usage_errors(bud_url: str, option: str, value: str) -> None:
    result = await budai_logs(bud_url, "exec_x", option, value)
    assert result.exit_code == 2
    assert option in result.output


def test_the_command_is_named_logs() -> None:
    assert logs_command.name == "logs"
    params: dict[str, Any] = {p.name: p for p in logs_command.params}
    assert {"execution_id", "follow", "level", "step_id", "since", "output"} <= set(params)


async def test_mounted_in_the_budai_group_with_its_global_options(driver: Driver, bud_url: str) -> None:
    from budai_async.cli import main

    execution_id = await ended_execution(driver)
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["--base-url", bud_url, "-o", "json", "logs", execution_id, "--level", "error"],
    )
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["seq"] for line in result.output.splitlines()] == [4]
