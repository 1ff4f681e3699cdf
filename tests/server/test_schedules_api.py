"""Schedules through the real server with a fake clock: both wire shapes, due/not due, pause/resume,
trigger, next-runs, restart with missed runs, and two racing loops that never double-fire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from api_support import LOG_DEFINITION, create_pipeline, json_of, wait_done
from trigger_support import T0, loop_of, start

from budai_server.config import ServerConfig
from budai_server.triggers.clock import CLOCK as CLOCK_KEY
from budai_server.triggers.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def server(aiohttp_server: Any, server_config: ServerConfig, clock: FakeClock) -> TestServer:
    return await start(aiohttp_server, server_config, clock)


@pytest.fixture
async def client(aiohttp_client: Any, server: TestServer) -> TestClient[Any, Any]:
    result: TestClient[Any, Any] = await aiohttp_client(server)
    return result


async def executions_of(client: TestClient[Any, Any], pipeline_id: str) -> list[dict[str, Any]]:
    page = await json_of(
        client,
        "GET",
        "/budpipeline/executions",
        params={"pipeline_id": pipeline_id, "limit": "100"},
        expect=200,
    )
    return list(page["items"])


async def runs_of(client: TestClient[Any, Any], schedule_id: str) -> list[dict[str, Any]]:
    page = await json_of(client, "GET", f"/budpipeline/schedules/{schedule_id}/runs", expect=200)
    return sorted(page["items"], key=lambda run: run["run_at"])


async def test_service_shape_create_fires_at_its_time_with_the_schedule_options(
    client: TestClient[Any, Any], server: TestServer, clock: FakeClock
) -> None:
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    body = {
        "workflow_id": pipeline["id"],
        "name": "weekday 9am",
        "schedule": {"type": "cron", "expression": "0 9 * * 1-5", "timezone": "UTC"},
        "params": {"who": "cron"},
        "enabled": True,
        "priority": "high",
        "tags": ["nightly"],
        "callbacks": {"on_complete": "http://127.0.0.1:9/hook"},
    }
    created = await json_of(client, "POST", "/budpipeline/schedules", json=body, expect=201)
    assert created["workflow_id"] == created["pipeline_id"] == pipeline["id"]
    assert created["cron"] == created["schedule"]["expression"] == "0 9 * * 1-5"
    assert created["status"] == "active" and created["enabled"] is True
    assert created["next_run_at"] == "2026-01-05T09:00:00Z"

    loop = loop_of(server)
    for minutes in (0, 30, 59):  # not due yet
        await loop.tick(T0 + timedelta(minutes=minutes))
    assert await executions_of(client, pipeline["id"]) == []

    await loop.tick(T0 + timedelta(hours=1))  # 09:00: due
    await loop.tick(T0 + timedelta(hours=1, minutes=1))  # seen again: nothing new
    [execution] = await executions_of(client, pipeline["id"])
    assert execution["priority"] == "high" and execution["tags"] == ["nightly"]
    assert execution["params"] == {"who": "cron"}
    done = await wait_done(client, execution["id"])
    assert done["outputs"] == {"shouted": "CRON"}

    got = await json_of(client, "GET", f"/budpipeline/schedules/{created['id']}", expect=200)
    assert got["run_count"] == 1 and got["last_execution_id"] == execution["id"]
    assert got["last_run_at"] == "2026-01-05T09:00:00Z"
    assert got["next_run_at"] == "2026-01-06T09:00:00Z"


async def test_sdk_shape_create_list_update_delete(client: TestClient[Any, Any]) -> None:
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    body = {"pipeline_id": pipeline["id"], "name": "sdk", "cron": "*/15 * * * *", "timezone": "Europe/Paris"}
    created = await json_of(client, "POST", "/budpipeline/schedules", json=body, expect=201)
    assert created["schedule"] == {
        "type": "cron",
        "expression": "*/15 * * * *",
        "timezone": "Europe/Paris",
        "run_at": None,
    }
    other = await create_pipeline(client, LOG_DEFINITION, name="other")
    await json_of(
        client,
        "POST",
        "/budpipeline/schedules",
        json={"pipeline_id": other["id"], "name": "o", "cron": "@hourly"},
        expect=201,
    )
    page = await json_of(
        client,
        "GET",
        "/budpipeline/schedules",
        params={"pipeline_id": pipeline["id"], "per_page": "5"},
        expect=200,
    )
    assert [item["id"] for item in page["items"]] == [created["id"]] and page["total"] == 1
    everything = await json_of(client, "GET", "/budpipeline/schedules", expect=200)
    assert everything["total"] == 2

    path = f"/budpipeline/schedules/{created['id']}"
    updated = await json_of(
        client, "PATCH", path, json={"cron": "@every 1h30m", "name": "renamed"}, expect=200
    )
    assert updated["schedule"]["type"] == "interval" and updated["cron"] == "@every 1h30m"
    assert updated["name"] == "renamed"
    assert updated["next_run_at"] == "2026-01-05T09:30:00Z"
    await json_of(client, "DELETE", path, expect=204)
    await json_of(client, "GET", path, expect=404)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "x", "cron": "0 9 * * *"}, "pipeline_id"),
        ({"pipeline_id": "P", "cron": "0 9 * * *"}, "name"),
        ({"pipeline_id": "P", "name": "x", "cron": "0 25 * * *"}, "expression"),
        ({"pipeline_id": "P", "name": "x", "cron": "0 9 * * *", "timezone": "Nowhere/Land"}, "timezone"),
        (
            {"pipeline_id": "P", "name": "x", "schedule": {"type": "interval", "expression": "@every 0s"}},
            "schedule.expression",
        ),
        ({"pipeline_id": "P", "name": "x", "schedule": {"type": "one_time"}}, "schedule.expression"),
        ({"pipeline_id": "P", "name": "x", "cron": "0 9 * * *", "catchup": "some"}, "catchup"),
        ({"pipeline_id": "P", "name": "x", "cron": "0 9 * * *", "enabled": "yes"}, "enabled"),
        ({"pipeline_id": "P", "name": "x", "cron": "0 9 * * *", "bogus": 1}, "bogus"),
    ],
)
async def test_bad_create_bodies_name_the_field(
    client: TestClient[Any, Any], body: dict[str, Any], path: str
) -> None:
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    if body.get("pipeline_id") == "P":
        body = {**body, "pipeline_id": pipeline["id"]}
    answer = await json_of(client, "POST", "/budpipeline/schedules", json=body, expect=422)
    assert path in [detail["path"] for detail in answer["error"]["details"]], answer


async def test_pause_resume_and_what_a_pause_skips(client: TestClient[Any, Any], server: TestServer) -> None:
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    created = await json_of(
        client,
        "POST",
        "/budpipeline/schedules",
        json={"pipeline_id": pipeline["id"], "name": "hourly", "cron": "0 * * * *"},
        expect=201,
    )
    path = f"/budpipeline/schedules/{created['id']}"
    paused = await json_of(client, "POST", path + "/pause", json={}, expect=200)
    assert paused["status"] == "paused" and paused["enabled"] is False and paused["next_run_at"] is None
    loop = loop_of(server)
    await loop.tick(T0 + timedelta(hours=3))
    assert await executions_of(client, pipeline["id"]) == []

    server.app[CLOCK_KEY].set(T0 + timedelta(hours=3, minutes=10))
    resumed = await json_of(client, "POST", path + "/resume", json={}, expect=200)
    assert resumed["status"] == "active"
    assert resumed["next_run_at"] == "2026-01-05T12:00:00Z"  # hours missed while paused never run
    await loop.tick(T0 + timedelta(hours=3, minutes=30))
    assert await executions_of(client, pipeline["id"]) == []
    await loop.tick(T0 + timedelta(hours=4))
    assert len(await executions_of(client, pipeline["id"])) == 1


async def test_manual_trigger_answers_an_execution_and_next_runs_lists_times(
    client: TestClient[Any, Any],
) -> None:
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    created = await json_of(
        client,
        "POST",
        "/budpipeline/schedules",
        json={
            "workflow_id": pipeline["id"],
            "name": "ny",
            "schedule": {"type": "cron", "expression": "30 2 * * *", "timezone": "America/New_York"},
            "params": {"who": "manual"},
        },
        expect=201,
    )
    path = f"/budpipeline/schedules/{created['id']}"
    execution = await json_of(client, "POST", path + "/trigger", json={}, expect=201)
    assert execution["pipeline_id"] == pipeline["id"] and execution["params"] == {"who": "manual"}
    assert (await wait_done(client, execution["id"]))["status"] == "completed"
    runs = await runs_of(client, created["id"])
    assert [(run["kind"], run["status"], run["execution_id"]) for run in runs] == [
        ("manual", "fired", execution["id"])
    ]
    nxt = await json_of(client, "GET", path + "/next-runs", params={"count": "3"}, expect=200)
    assert nxt["next_runs"] == ["2026-01-06T07:30:00Z", "2026-01-07T07:30:00Z", "2026-01-08T07:30:00Z"]
    await json_of(client, "GET", path + "/next-runs", params={"count": "0"}, expect=422)


async def test_one_time_schedule_fires_once_then_is_disabled(
    client: TestClient[Any, Any], server: TestServer
) -> None:
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    created = await json_of(
        client,
        "POST",
        "/budpipeline/schedules",
        json={
            "workflow_id": pipeline["id"],
            "name": "once",
            "schedule": {"type": "one_time", "run_at": "2026-01-05T08:30:00Z"},
        },
        expect=201,
    )
    assert created["cron"] == "" and created["next_run_at"] == "2026-01-05T08:30:00Z"
    loop = loop_of(server)
    await loop.tick(T0 + timedelta(minutes=30))
    await loop.tick(T0 + timedelta(days=2))
    assert len(await executions_of(client, pipeline["id"])) == 1
    got = await json_of(client, "GET", f"/budpipeline/schedules/{created['id']}", expect=200)
    assert got["status"] == "disabled" and got["next_run_at"] is None and got["run_count"] == 1


async def test_overlap_skip_records_a_run_while_the_previous_one_is_unfinished(
    client: TestClient[Any, Any], server: TestServer
) -> None:
    pipeline = await create_pipeline(
        client, {"steps": [{"id": "wait", "action": "delay", "params": {"seconds": 30}}]}
    )
    created = await json_of(
        client,
        "POST",
        "/budpipeline/schedules",
        json={"pipeline_id": pipeline["id"], "name": "slow", "cron": "@every 1m"},
        expect=201,
    )
    loop = loop_of(server)
    await loop.tick(T0 + timedelta(minutes=1))
    await loop.tick(T0 + timedelta(minutes=2))  # the first run's execution is still running
    runs = await runs_of(client, created["id"])
    assert [(run["status"], run["reason"]) for run in runs] == [("fired", None), ("skipped", "overlap")]
    [execution] = await executions_of(client, pipeline["id"])
    await json_of(client, "POST", f"/budpipeline/executions/{execution['id']}/cancel", json={}, expect=200)


@pytest.mark.parametrize(
    ("path", "status"),
    [("/budpipeline/schedules", 405), ("/budpipeline/webhooks", 405), ("/budpipeline/trigger", 404)],
)
async def test_trigger_paths_are_never_read_as_pipeline_ids(
    client: TestClient[Any, Any], path: str, status: int
) -> None:
    response = await client.put(path, json={"name": "x"})
    assert response.status == status, await response.text()


@pytest.mark.parametrize("action", ["pause", "resume", "trigger"])
async def test_action_bodies_take_no_fields(client: TestClient[Any, Any], action: str) -> None:
    """The body of pause/resume/trigger is an empty object (the spec's `EmptyBody`): a field in it is
    a 422 naming the field, and nothing changes (found by schemathesis on rotate-secret's twin)."""
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    body = {"pipeline_id": pipeline["id"], "name": "hourly", "cron": "0 * * * *"}
    created = await json_of(client, "POST", "/budpipeline/schedules", json=body, expect=201)
    path = f"/budpipeline/schedules/{created['id']}/{action}"
    refused = await json_of(client, "POST", path, json={"enabled": False}, expect=422)
    assert [detail["path"] for detail in refused["error"]["details"]] == ["enabled"]
    after = await json_of(client, "GET", f"/budpipeline/schedules/{created['id']}", expect=200)
    assert after["enabled"] is created["enabled"] and after.get("run_count") == created.get("run_count")
