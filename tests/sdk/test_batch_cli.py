"""`budai batch` through CliRunner against a real server on its own thread (the CLI runs its own loop)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from batch_support import DELAY, NOOP, threaded_server
from click.testing import CliRunner

from budai_async import AsyncBudClient
from budai_async.cli.batch import batch_command
from budai_server.config import ServerConfig


@pytest.fixture
def server_url(server_config: ServerConfig) -> Iterator[str]:
    with threaded_server(attrs.evolve(server_config, max_concurrent_executions=64)) as url:
        yield url


def _pipeline(url: str, definition: dict[str, Any]) -> str:
    async def create() -> str:
        async with AsyncBudClient(base_url=url) as client:
            return (await client.pipelines.create(name="cli", definition=definition)).id

    return asyncio.run(create())


def _count(url: str, pipeline_id: str) -> int:
    async def count() -> int:
        async with AsyncBudClient(base_url=url) as client:
            page = await client.executions.list(pipeline_id=pipeline_id, limit=1)
            assert page.total is not None
            return page.total

    return asyncio.run(count())


def _invoke(url: str, *args: str) -> Any:
    return CliRunner().invoke(batch_command, list(args), env={"BUDAI_BASE_URL": url, "COLUMNS": "200"})


def test_batch_waits_and_prints_a_summary(server_url: str, tmp_path: Path) -> None:
    pipeline_id = _pipeline(server_url, NOOP)
    params = tmp_path / "params.jsonl"
    params.write_text("".join(json.dumps({"n": n}) + "\n" + ("\n" if n % 7 == 0 else "") for n in range(120)))
    result = _invoke(
        server_url,
        pipeline_id,
        "--params-file",
        str(params),
        "--concurrency",
        "8",
        "--chunk-size",
        "25",
        "--wait",
    )
    assert result.exit_code == 0, result.output
    assert "Batch batch_" in result.output
    assert "120" in result.output and "Failed items" not in result.output
    assert _count(server_url, pipeline_id) == 120


def test_bad_lines_fail_alone_and_the_exit_code_says_so(server_url: str, tmp_path: Path) -> None:
    pipeline_id = _pipeline(server_url, NOOP)
    params = tmp_path / "params.jsonl"
    params.write_text('{"n": 0}\n{not json\n[1, 2]\n{"n": 3}\n')
    result = _invoke(
        server_url, pipeline_id, "--params-file", str(params), "--output", "json", "--tag", "cli"
    )
    assert result.exit_code == 1, result.output
    document = json.loads(result.output)
    assert document["counts"]["created"] == 2 and document["counts"]["rejected"] == 2
    items = document["items"]
    assert [item["index"] for item in items] == [0, 1, 2, 3]
    assert items[1]["error"]["message"].startswith("line 2: not JSON")
    assert items[2]["error"]["message"] == "line 3: expected a JSON object, got list"
    assert items[0]["execution_id"] and items[3]["execution_id"]
    assert _count(server_url, pipeline_id) == 2


def test_failed_executions_fail_the_batch_when_waiting(server_url: str, tmp_path: Path) -> None:
    pipeline_id = _pipeline(
        server_url, {"steps": [{"id": "boom", "action": "fail", "params": {"message": "{{ params.why }}"}}]}
    )
    params = tmp_path / "params.jsonl"
    params.write_text('{"why": "a"}\n{"why": "b"}\n')
    result = _invoke(server_url, pipeline_id, "--params-file", str(params), "--wait")
    assert result.exit_code == 1
    assert "Failed items" in result.output and "ended failed" in result.output


def test_reads_stdin_and_keeps_running_items_with_wait_timeout(server_url: str) -> None:
    pipeline_id = _pipeline(server_url, DELAY)
    result = CliRunner().invoke(
        batch_command,
        [pipeline_id, "--params-file", "-", "--wait", "--wait-timeout", "0.5", "-o", "json"],
        input='{"seconds": 0}\n{"seconds": 5}\n',
        env={"BUDAI_BASE_URL": server_url},
    )
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)["counts"]
    assert (counts["completed"], counts["pending"]) == (1, 1)


def test_unknown_pipeline_exits_4(server_url: str, tmp_path: Path) -> None:
    params = tmp_path / "params.jsonl"
    params.write_text('{"n": 1}\n')
    result = _invoke(server_url, "pipe_missing", "--params-file", str(params))
    assert result.exit_code == 4


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--params-file", "/nonexistent/params.jsonl"], "--params-file"),
        (["--params-file", "-", "--wait-timeout", "3"], "--wait"),
        (["--params-file", "-", "--concurrency", "0"], "--concurrency"),
    ],
)
def test_usage_errors_exit_2(server_url: str, args: list[str], hint: str) -> None:
    result = _invoke(server_url, "pipe_x", *args)
    assert result.exit_code == 2
    assert hint in result.output


def test_mounted_in_the_budai_group(server_url: str, tmp_path: Path) -> None:
    from budai_async.cli import main

    pipeline_id = _pipeline(server_url, NOOP)
    params = tmp_path / "params.jsonl"
    params.write_text('{"n": 1}\n')
    result = CliRunner().invoke(
        main,
        ["--base-url", server_url, "--output", "json", "batch", pipeline_id, "--params-file", str(params)],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["counts"]["created"] == 1
