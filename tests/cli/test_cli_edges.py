"""CLI edges through click's CliRunner against the real server: ids never cut in narrow tables, human
durations, the total and a "more" hint under `executions list`, `run --on-complete/--on-failure`,
`executions wait`, and the human-duration table."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from budai_async.cli import main
from budai_async.cli._live import human_duration


async def budai(url: str, *args: str, columns: int = 200) -> Result:
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, main, list(args), env={"BUDAI_BASE_URL": url, "COLUMNS": str(columns)}
    )


async def make_pipeline(url: str, tmp_path: Path, *steps: dict[str, Any]) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "edges", "definition": {"steps": list(steps)}}))
    result = await budai(url, "-o", "json", "pipelines", "create", str(path))
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["id"])


LOG = {"id": "a_step_with_a_rather_long_identifier", "action": "log", "params": {"message": "hi"}}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, None),
        (0.0123, "12 ms"),
        (0.9994, "999 ms"),
        (1.0, "1.0 s"),
        (59.94, "59.9 s"),
        (61, "1 m 01 s"),
        (3599.4, "59 m 59 s"),
        (3600, "1 h 00 m"),
        (7385, "2 h 03 m"),
    ],
)
def test_human_duration(seconds: float | None, text: str | None) -> None:
    assert human_duration(seconds) == text


async def test_ids_are_never_cut_in_a_narrow_terminal(bud_url: str, tmp_path: Path) -> None:
    pipeline_id = await make_pipeline(bud_url, tmp_path, LOG)
    ran = await budai(bud_url, "-o", "json", "run", pipeline_id, "--wait")
    execution_id = json.loads(ran.stdout)["id"]
    for args in (("executions", "list"), ("executions", "get", execution_id), ("pipelines", "list")):
        result = await budai(bud_url, *args, columns=60)
        assert result.exit_code == 0, result.output
        assert execution_id in result.output or args[0] == "pipelines"
        assert pipeline_id in result.output
        assert "…" not in result.output
    detail = await budai(bud_url, "executions", "get", execution_id, columns=60)
    assert LOG["id"] in detail.output
    assert re.search(r"\d+ ms|\d+\.\d s", detail.output)  # a human duration, not raw seconds


async def test_executions_list_shows_the_total_and_how_to_see_more(bud_url: str, tmp_path: Path) -> None:
    pipeline_id = await make_pipeline(bud_url, tmp_path, LOG)
    for _ in range(3):
        assert (await budai(bud_url, "run", pipeline_id)).exit_code == 0
    first = await budai(bud_url, "executions", "list", "--limit", "2")
    assert "showing 1-2 of 3; more: --offset 2 (--limit 2)" in first.output
    last = await budai(bud_url, "executions", "list", "--limit", "2", "--offset", "2")
    assert "showing 3-3 of 3" in last.output and "more:" not in last.output
    as_json = await budai(bud_url, "-o", "json", "executions", "list", "--limit", "2")
    assert len(json.loads(as_json.stdout)) == 2  # the note never pollutes JSON output


async def test_run_sets_callbacks(bud_url: str, tmp_path: Path) -> None:
    pipeline_id = await make_pipeline(bud_url, tmp_path, LOG)
    result = await budai(
        bud_url,
        "-o",
        "json",
        "run",
        pipeline_id,
        "--on-complete",
        "http://127.0.0.1:9/done",
        "--on-failure",
        "http://127.0.0.1:9/failed",
    )
    assert result.exit_code == 0, result.output
    callbacks = json.loads(result.stdout)["callbacks"]
    assert callbacks == {"on_complete": "http://127.0.0.1:9/done", "on_failure": "http://127.0.0.1:9/failed"}


async def test_executions_wait_exits_with_the_status(bud_url: str, tmp_path: Path) -> None:
    failing = {"id": "boom", "action": "fail", "params": {"message": "no"}}
    pipeline_id = await make_pipeline(bud_url, tmp_path, failing)
    ran = await budai(bud_url, "-o", "json", "run", pipeline_id)
    execution_id = json.loads(ran.stdout)["id"]
    waited = await budai(bud_url, "executions", "wait", execution_id)
    assert waited.exit_code == 1, waited.output
    assert "failed" in waited.output


async def test_an_error_message_with_markup_is_printed_verbatim(bud_url: str) -> None:
    result = await budai(bud_url, "executions", "get", "[bold]x[/] [/oops]")
    assert result.exit_code == 4
    assert "MarkupError" not in result.output
