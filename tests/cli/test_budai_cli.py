"""The `budai` CLI through click's CliRunner against the real server.

The server runs in the test's event loop; each CLI call runs on a worker thread with its own
`asyncio.run`, as it would in a terminal.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from budai_async.cli import main

DEFINITION: dict[str, Any] = {
    "steps": [
        {"id": "greet", "action": "log", "params": {"message": "hello {{ params.who }}"}},
        {
            "id": "shout",
            "action": "transform",
            "params": {"input": "{{ params.who }}", "operation": "uppercase"},
        },
    ]
}


async def budai(url: str, *args: str) -> Result:
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, main, list(args), env={"BUDAI_BASE_URL": url, "COLUMNS": "200"}
    )


async def budai_json(url: str, *args: str) -> Any:
    result = await budai(url, "--output", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def create_pipeline(url: str, tmp_path: Path, definition: dict[str, Any] | None = None) -> str:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"name": "Greeter", "definition": definition or DEFINITION}))
    created = await budai_json(url, "pipelines", "create", str(path))
    assert created["name"] == "Greeter"
    return str(created["id"])


async def test_pipeline_lifecycle(bud_url: str, tmp_path: Path) -> None:
    pipeline_id = await create_pipeline(bud_url, tmp_path)
    listed = await budai_json(bud_url, "pipelines", "list", "--name-contains", "greet")
    assert [p["id"] for p in listed] == [pipeline_id]
    shown = await budai_json(bud_url, "pipelines", "get", pipeline_id)
    assert shown["definition"]["steps"][0]["id"] == "greet"
    renamed = await budai_json(bud_url, "pipelines", "update", pipeline_id, "--name", "Greeter v2")
    assert renamed["name"] == "Greeter v2"
    table = await budai(bud_url, "pipelines", "list")
    assert table.exit_code == 0 and "Greeter v2" in table.output
    deleted = await budai(bud_url, "pipelines", "delete", pipeline_id)
    assert deleted.exit_code == 0 and pipeline_id in deleted.output
    missing = await budai(bud_url, "pipelines", "get", pipeline_id)
    assert missing.exit_code == 4
    assert "error:" in missing.stderr and "Traceback" not in missing.output


async def test_validate_reports_each_fault_and_exit_code(bud_url: str, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(DEFINITION))
    assert (await budai(bud_url, "pipelines", "validate", str(good))).exit_code == 0
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"steps": [{"id": "a", "action": "log", "params": {}, "depends_on": ["ghost"]}]})
    )
    result = await budai(bud_url, "--output", "json", "pipelines", "validate", str(bad))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert any(e["path"] == "steps[0].depends_on[0]" for e in report["errors"])


async def test_run_wait_params_tags_and_exit_codes(bud_url: str, tmp_path: Path) -> None:
    pipeline_id = await create_pipeline(bud_url, tmp_path)
    result = await budai(
        bud_url,
        "-o",
        "json",
        "run",
        pipeline_id,
        "-p",
        "who=ada",
        "--tag",
        "cli",
        "--priority",
        "high",
        "--wait",
    )
    assert result.exit_code == 0, result.output
    execution = json.loads(result.stdout)
    assert execution["status"] == "completed"
    assert execution["params"] == {"who": "ada"}
    assert execution["tags"] == ["cli"] and execution["priority"] == "high"
    assert {step["id"]: step for step in execution["steps"]}["shout"]["output"]["result"] == "ADA"

    failing = await create_pipeline(
        bud_url, tmp_path, {"steps": [{"id": "boom", "action": "fail", "params": {"message": "no"}}]}
    )
    failed = await budai(bud_url, "run", failing, "--wait")
    assert failed.exit_code == 1
    assert "failed" in failed.output


async def test_run_follow_streams_logs(bud_url: str, tmp_path: Path) -> None:
    pipeline_id = await create_pipeline(bud_url, tmp_path)
    result = await budai(bud_url, "run", pipeline_id, "-p", "who=grace", "--follow")
    assert result.exit_code == 0, result.output
    assert "hello grace" in result.output
    assert "completed" in result.output


async def test_executions_list_get_cancel_retry(bud_url: str, tmp_path: Path) -> None:
    pipeline_id = await create_pipeline(bud_url, tmp_path)
    done = await budai_json(bud_url, "run", pipeline_id, "-p", "who=a", "-p", "n=3", "--tag", "x", "--wait")
    listed = await budai_json(bud_url, "executions", "list", "--pipeline-id", pipeline_id, "--tag", "x")
    assert [e["id"] for e in listed] == [done["id"]]
    assert await budai_json(bud_url, "executions", "list", "--status", "failed", "--tag", "x") == []
    got = await budai_json(bud_url, "executions", "get", done["id"])
    assert got["outputs"] == done["outputs"]
    retried = await budai_json(bud_url, "executions", "retry", done["id"], "-p", "who=b")
    assert retried["retry_of"] == done["id"]
    assert retried["params"] == {"who": "b", "n": 3}
    conflict = await budai(bud_url, "executions", "cancel", done["id"])
    assert conflict.exit_code == 1 and "409" in conflict.stderr

    slow = await create_pipeline(
        bud_url, tmp_path, {"steps": [{"id": "nap", "action": "delay", "params": {"seconds": 30}}]}
    )
    started = await budai_json(bud_url, "run", slow)
    cancelled = await budai_json(bud_url, "executions", "cancel", started["id"])
    assert cancelled["status"] in ("cancelled", "running")
    final = await budai_json(bud_url, "executions", "get", started["id"])
    assert final["status"] == "cancelled"


async def test_usage_and_connection_errors(tmp_path: Path) -> None:
    bad_param = await budai("http://127.0.0.1:9", "run", "pipe_x", "-p", "novalue")
    assert bad_param.exit_code == 2
    unreachable = await budai("http://127.0.0.1:9", "pipelines", "list")
    assert unreachable.exit_code == 3
    assert "error:" in unreachable.stderr and "Traceback" not in unreachable.output
