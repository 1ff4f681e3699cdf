"""`budai schedules ...` and `budai triggers ...` through click's CliRunner against the real server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient
from click.testing import CliRunner, Result

from budai_async.cli import main

DEFINITION: dict[str, Any] = {
    "steps": [
        {
            "id": "shout",
            "action": "transform",
            "params": {"input": "{{ params.who }}", "operation": "uppercase"},
        }
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


async def pipeline(api: TestClient[Any, Any]) -> str:
    response = await api.post("/budpipeline", json={"name": "cli", "definition": DEFINITION})
    return str((await response.json())["id"])


async def test_schedules_commands(bud_url: str, api: TestClient[Any, Any]) -> None:
    pipeline_id = await pipeline(api)
    created = await budai_json(
        bud_url,
        "schedules",
        "create",
        pipeline_id,
        "--name",
        "nightly",
        "--cron",
        "0 2 * * *",
        "--timezone",
        "Asia/Tokyo",
        "-p",
        "who=cli",
        "--catchup",
        "all",
    )
    schedule_id = created["id"]
    assert created["schedule"]["timezone"] == "Asia/Tokyo" and created["catchup"] == "all"
    listed = await budai_json(bud_url, "schedules", "list", "--pipeline", pipeline_id)
    assert [s["id"] for s in listed] == [schedule_id]
    table = await budai(bud_url, "schedules", "list", "--pipeline", pipeline_id)
    assert table.exit_code == 0 and "Schedules" in table.output  # rich may shorten cells to the width
    times = await budai_json(bud_url, "schedules", "next-runs", schedule_id, "-n", "2")
    assert len(times) == 2 and all(t.endswith("17:00:00+00:00") for t in times)  # 02:00 JST
    paused = await budai_json(bud_url, "schedules", "pause", schedule_id)
    assert paused["status"] == "paused"
    assert (await budai_json(bud_url, "schedules", "resume", schedule_id))["status"] == "active"
    updated = await budai_json(bud_url, "schedules", "update", schedule_id, "--cron", "@every 2h")
    assert updated["cron"] == "@every 2h"
    fired = await budai(bud_url, "schedules", "trigger", schedule_id)
    assert fired.exit_code == 0 and fired.stdout.strip().startswith("exec_")
    runs = await budai_json(bud_url, "schedules", "runs", schedule_id)
    assert [(r["kind"], r["execution_id"]) for r in runs] == [("manual", fired.stdout.strip())]
    bad = await budai(bud_url, "schedules", "create", pipeline_id, "--name", "x", "--cron", "nope")
    assert bad.exit_code == 1 and "expression" in bad.output
    both = await budai(bud_url, "schedules", "create", pipeline_id, "--name", "x")
    assert both.exit_code == 2
    deleted = await budai(bud_url, "schedules", "delete", schedule_id)
    assert deleted.exit_code == 0
    assert (await budai(bud_url, "schedules", "get", schedule_id)).exit_code == 4


async def test_triggers_commands(bud_url: str, api: TestClient[Any, Any]) -> None:
    pipeline_id = await pipeline(api)
    created = await budai_json(
        bud_url, "triggers", "webhook", "create", pipeline_id, "--name", "gh", "--header", "X-Source: ci"
    )
    assert created["secret"].startswith("whsec_")
    webhook_id = created["webhook_id"]
    listed = await budai_json(bud_url, "triggers", "webhook", "list", "--pipeline", pipeline_id)
    assert [w["id"] for w in listed] == [webhook_id] and "secret" not in listed[0]
    fired = await budai(bud_url, "triggers", "webhook", "fire", webhook_id, "-p", "who=cli")
    assert fired.exit_code == 0 and fired.stdout.strip().startswith("exec_")
    rotated = await budai(bud_url, "triggers", "webhook", "rotate-secret", webhook_id)
    assert rotated.exit_code == 0 and "whsec_" in rotated.stdout and created["secret"] not in rotated.stdout
    assert (await budai(bud_url, "triggers", "webhook", "delete", webhook_id)).exit_code == 0

    event = await budai_json(
        bud_url,
        "triggers",
        "event",
        "create",
        pipeline_id,
        "--name",
        "after",
        "--on",
        "execution.failed",
        "--source",
        pipeline_id,
        "--max-chain-depth",
        "2",
    )
    assert event[0]["event_type"] == "execution.failed" and event[0]["filter"] == {"pipeline_id": pipeline_id}
    trigger_id = event[0]["id"]
    updated = await budai_json(bud_url, "triggers", "event", "update", trigger_id, "--inactive")
    assert updated[0]["is_active"] is False
    assert [t["id"] for t in await budai_json(bud_url, "triggers", "event", "list")] == [trigger_id]
    table = await budai(bud_url, "triggers", "event", "list")
    assert table.exit_code == 0 and "Event triggers" in table.output
    assert await budai_json(bud_url, "triggers", "event", "firings", trigger_id) == []
    assert (await budai(bud_url, "triggers", "event", "delete", trigger_id)).exit_code == 0
    assert (await budai(bud_url, "triggers", "event", "get", trigger_id)).exit_code == 4
