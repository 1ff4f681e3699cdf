"""Schedules across restarts and processes: missed runs follow the catch-up rule, nothing fires twice,
two loops on one database never double-fire, and the background loop fires on the fake clock."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from api_support import LOG_DEFINITION, create_pipeline, json_of
from trigger_support import T0, loop_of, start

from budai_server.config import ServerConfig
from budai_server.triggers.clock import FakeClock

Client = TestClient[Any, Any]


async def schedule(client: Client, pipeline_id: str, **fields: Any) -> dict[str, Any]:
    body = {"pipeline_id": pipeline_id, "name": "s", "cron": "0 * * * *", **fields}
    created: dict[str, Any] = await json_of(client, "POST", "/budpipeline/schedules", json=body, expect=201)
    return created


async def count_executions(client: Client, pipeline_id: str) -> int:
    page = await json_of(
        client, "GET", "/budpipeline/executions", params={"pipeline_id": pipeline_id}, expect=200
    )
    return int(page["total"])


async def runs(client: Client, schedule_id: str) -> list[tuple[str, str, str | None]]:
    page = await json_of(client, "GET", f"/budpipeline/schedules/{schedule_id}/runs", expect=200)
    return sorted((r["run_at"][11:16], r["status"], r["reason"]) for r in page["items"])


@pytest.mark.parametrize(
    ("catchup", "fired", "skipped"),
    [
        (
            "latest",
            ["13:00"],
            [
                ("09:00", "superseded"),
                ("10:00", "superseded"),
                ("11:00", "superseded"),
                ("12:00", "superseded"),
            ],
        ),
        ("all", ["09:00", "10:00", "11:00", "12:00", "13:00"], []),
        ("skip", [], [(f"{h}:00", "outside_catchup_window") for h in ("09", "10", "11", "12", "13")]),
    ],
)
async def test_runs_missed_while_down_follow_the_catchup_rule(
    aiohttp_server: Any,
    aiohttp_client: Any,
    server_config: ServerConfig,
    catchup: str,
    fired: list[str],
    skipped: list[tuple[str, str]],
) -> None:
    first = await start(aiohttp_server, server_config, FakeClock(T0))
    client = await aiohttp_client(first)
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    created = await schedule(client, pipeline["id"], catchup=catchup, overlap="allow_all")
    await client.close()
    await first.close()

    # Down from 08:00 to 13:10: five hourly run times were missed.
    later = T0 + timedelta(hours=5, minutes=10)
    second = await start(aiohttp_server, server_config, FakeClock(later))
    client = await aiohttp_client(second)
    await loop_of(second).tick(later)
    await loop_of(second).tick(later)  # a second pass changes nothing
    found = await runs(client, created["id"])
    assert [at for at, status, _ in found if status == "fired"] == fired
    assert [(at, reason) for at, status, reason in found if status == "skipped"] == skipped
    assert await count_executions(client, pipeline["id"]) == len(fired)
    got = await json_of(client, "GET", f"/budpipeline/schedules/{created['id']}", expect=200)
    assert got["run_count"] == len(fired) and got["skipped_count"] == len(skipped)
    assert got["next_run_at"] == "2026-01-05T14:00:00Z"


async def test_a_run_fired_before_a_restart_is_not_fired_again(
    aiohttp_server: Any, aiohttp_client: Any, server_config: ServerConfig
) -> None:
    first = await start(aiohttp_server, server_config, FakeClock(T0))
    client = await aiohttp_client(first)
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    await schedule(client, pipeline["id"])
    await loop_of(first).tick(T0 + timedelta(hours=1))
    await client.close()
    await first.close()

    again = T0 + timedelta(hours=1, seconds=30)
    second = await start(aiohttp_server, server_config, FakeClock(again))
    client = await aiohttp_client(second)
    await loop_of(second).tick(again)
    assert await count_executions(client, pipeline["id"]) == 1


async def test_two_loops_on_one_database_never_double_fire(
    aiohttp_server: Any, aiohttp_client: Any, server_config: ServerConfig
) -> None:
    clock_a, clock_b = FakeClock(T0), FakeClock(T0)
    server_a = await start(aiohttp_server, server_config, clock_a)
    server_b = await start(aiohttp_server, server_config, clock_b)
    client = await aiohttp_client(server_a)
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    created = await schedule(client, pipeline["id"], cron="@every 10m", catchup="all", overlap="allow_all")
    for minutes in (10, 20, 35, 60):
        now = T0 + timedelta(minutes=minutes)
        launched = await asyncio.gather(
            loop_of(server_a).tick(now), loop_of(server_b).tick(now), loop_of(server_a).tick(now)
        )
        assert sum(len(batch) for batch in launched) == {10: 1, 20: 1, 35: 1, 60: 3}[minutes]
    assert await count_executions(client, pipeline["id"]) == 6
    assert [status for _, status, _ in await runs(client, created["id"])] == ["fired"] * 6


async def test_the_background_loop_fires_when_the_clock_reaches_a_run(
    aiohttp_server: Any, aiohttp_client: Any, server_config: ServerConfig
) -> None:
    clock = FakeClock(T0)
    server: TestServer = await start(aiohttp_server, server_config, clock, loop_running=True)
    client = await aiohttp_client(server)
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    created = await schedule(client, pipeline["id"], cron="@every 1m")
    path = f"/budpipeline/schedules/{created['id']}"
    for _ in range(200):  # let the loop reach its (fake) sleep
        await asyncio.sleep(0.005)
    assert (await json_of(client, "GET", path, expect=200))["run_count"] == 0
    clock.advance(60)
    for _ in range(2000):
        if (await json_of(client, "GET", path, expect=200))["run_count"] == 1:
            break
        await asyncio.sleep(0.005)
    assert (await json_of(client, "GET", path, expect=200))["run_count"] == 1
    assert await count_executions(client, pipeline["id"]) == 1


async def test_a_broken_schedule_does_not_stop_the_others(
    aiohttp_server: Any, aiohttp_client: Any, server_config: ServerConfig
) -> None:
    server = await start(aiohttp_server, server_config, FakeClock(T0))
    client = await aiohttp_client(server)
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    broken = await schedule(client, pipeline["id"], name="broken")
    healthy = await schedule(client, pipeline["id"], name="healthy")
    store = loop_of(server).store
    # A zone that vanished from the time zone database since the schedule was stored.
    await store.run_transaction(
        lambda conn: conn.execute("UPDATE schedules SET timezone = 'Gone/Zone' WHERE id = ?", (broken["id"],))
    )
    await loop_of(server).tick(T0 + timedelta(hours=1))
    assert [status for _, status, _ in await runs(client, healthy["id"])] == ["fired"]
    assert await runs(client, broken["id"]) == []


async def test_a_schedule_paused_while_its_pass_runs_does_not_fire(
    aiohttp_server: Any, aiohttp_client: Any, server_config: ServerConfig
) -> None:
    server = await start(aiohttp_server, server_config, FakeClock(T0))
    client = await aiohttp_client(server)
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    created = await schedule(client, pipeline["id"])
    loop = loop_of(server)
    [record] = await loop.schedules.due(T0 + timedelta(hours=1))  # the pass has read it as active
    await json_of(client, "POST", f"/budpipeline/schedules/{created['id']}/pause", json={}, expect=200)
    outcome = await loop.fire_due(record, T0 + timedelta(hours=1))
    assert outcome.launched == [] and await count_executions(client, pipeline["id"]) == 0


@pytest.mark.slow
async def test_several_processes_on_one_database_never_double_fire(
    aiohttp_server: Any, aiohttp_client: Any, server_config: ServerConfig
) -> None:
    server = await start(aiohttp_server, server_config, FakeClock(T0))
    client = await aiohttp_client(server)
    pipeline = await create_pipeline(client, LOG_DEFINITION)
    await schedule(client, pipeline["id"], cron="@every 10m", catchup="all", overlap="allow_all")
    await client.close()
    await server.close()

    racer = Path(__file__).with_name("schedule_racer.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(racer),
            str(server_config.db_path),
            T0.isoformat(),
            "5",
            "40",
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        for _ in range(3)
    ]
    outputs = [await process.communicate() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0]
    launched = [int(out.decode()) for out, _err in outputs]
    assert sum(launched) == 20  # 200 minutes of @every 10m, whoever fired each run

    again = await start(aiohttp_server, server_config, FakeClock(T0))
    client = await aiohttp_client(again)
    assert await count_executions(client, pipeline["id"]) == 20
