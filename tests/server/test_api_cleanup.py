"""Deleting executions through the real server: one, many by filter, and the retention purge.

Each deleted execution must take its tags, log lines, callback deliveries and attempts with it (read
back from the SQLite file), while pending and running executions are never touched.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from api_support import Client, create_pipeline, delay_definition, execute, json_of, step, wait_done
from outbox_support import FAST_SCHEDULE, SECRET, Endpoint, free_port, wait_delivery

from budai_server.appkeys import CONFIG
from budai_server.config import ServerConfig
from budai_server.routes.cleanup import purge_expired

HELLO = {"steps": [step("hello", "log", message="hello {{ params.n }}")]}
BROKEN = {"steps": [step("boom", "fail", message="broken")]}


def rows(db: Any, execution_id: str) -> dict[str, int]:
    """How many rows each table holds for one execution."""
    with sqlite3.connect(db) as conn:
        seq = conn.execute("SELECT seq FROM executions WHERE id = ?", (execution_id,)).fetchone()
        counts = {
            "executions": 0 if seq is None else 1,
            "tags": conn.execute(
                "SELECT COUNT(*) FROM execution_tags WHERE execution_seq = ?", (seq[0] if seq else -1,)
            ).fetchone()[0],
            "logs": conn.execute(
                "SELECT COUNT(*) FROM execution_logs WHERE execution_id = ?", (execution_id,)
            ).fetchone()[0],
            "deliveries": conn.execute(
                "SELECT COUNT(*) FROM callback_deliveries WHERE execution_id = ?", (execution_id,)
            ).fetchone()[0],
            "attempts": conn.execute(
                "SELECT COUNT(*) FROM callback_attempts WHERE delivery_id IN "
                "(SELECT id FROM callback_deliveries WHERE execution_id = ?) OR delivery_id LIKE ?",
                (execution_id, f"%{execution_id[5:]}%"),
            ).fetchone()[0],
        }
    conn.close()
    return counts


@pytest.fixture
async def hooked(
    make_bud_server: Any, aiohttp_server: Any, aiohttp_client: Any
) -> tuple[Client, str, ServerConfig]:
    """A server delivering callbacks to a webhook that answers 200; (client, webhook URL, config)."""
    endpoint = Endpoint()
    hook_server: TestServer = await aiohttp_server(endpoint.app())
    server: TestServer = await make_bud_server(
        webhook_secret=SECRET, callback_retry_schedule=FAST_SCHEDULE, callback_jitter=0.0
    )
    client: Client = await aiohttp_client(server)
    return client, str(hook_server.make_url("/hook")), server.app[CONFIG]


async def _finished(client: Client, pipeline_id: str, hook: str, **body: Any) -> dict[str, Any]:
    created = await execute(client, pipeline_id, callbacks={"on_complete": hook, "on_failure": hook}, **body)
    done = await wait_done(client, created["id"])
    await wait_delivery(client, done["id"], lambda d: d["status"] == "delivered")
    return dict(done)


async def test_delete_one_removes_its_logs_callbacks_and_attempts(
    hooked: tuple[Client, str, ServerConfig],
) -> None:
    client, hook, config = hooked
    pipeline = await create_pipeline(client, HELLO)
    gone = await _finished(client, pipeline["id"], hook, params={"n": 1}, tags=["a", "b"])
    kept = await _finished(client, pipeline["id"], hook, params={"n": 2}, tags=["a"])
    before = rows(config.db_path, gone["id"])
    assert before == {"executions": 1, "tags": 2, "logs": before["logs"], "deliveries": 1, "attempts": 1}
    assert before["logs"] > 0

    await json_of(client, "DELETE", f"/budpipeline/executions/{gone['id']}", expect=204)

    assert rows(config.db_path, gone["id"]) == dict.fromkeys(before, 0)
    for path in ("", "/logs", "/callbacks", "/progress"):
        await json_of(client, "GET", f"/budpipeline/executions/{gone['id']}{path}", expect=404)
    await json_of(client, "DELETE", f"/budpipeline/executions/{gone['id']}", expect=404)
    still = rows(config.db_path, kept["id"])
    assert still["executions"] == still["deliveries"] == still["attempts"] == 1 and still["logs"] > 0
    page = await json_of(client, "GET", "/budpipeline/executions", params={"tags": "a"}, expect=200)
    assert [item["id"] for item in page["items"]] == [kept["id"]]


async def test_a_running_execution_cannot_be_deleted(
    api: TestClient[Any, Any], server_config: ServerConfig
) -> None:
    pipeline = await create_pipeline(api, delay_definition(30))
    running = await execute(api, pipeline["id"])
    answer = await json_of(api, "DELETE", f"/budpipeline/executions/{running['id']}", expect=409)
    assert answer["error"]["code"] == "execution_not_finished"
    assert answer["error"]["details"]["status"] in ("pending", "running")
    bulk = await json_of(
        api, "POST", "/budpipeline/executions/delete", json={"pipeline_id": pipeline["id"]}, expect=200
    )
    assert bulk == {"deleted": 0, "dry_run": False}  # never a pending or running one
    await json_of(api, "POST", f"/budpipeline/executions/{running['id']}/cancel", expect=200)
    await json_of(api, "DELETE", f"/budpipeline/executions/{running['id']}", expect=204)
    assert rows(server_config.db_path, running["id"])["executions"] == 0


async def test_bulk_delete_by_filter_answers_a_count(
    api: TestClient[Any, Any], server_config: ServerConfig
) -> None:
    hello = await create_pipeline(api, HELLO, name="hello")
    broken = await create_pipeline(api, BROKEN, name="broken")
    ids: dict[str, list[str]] = {"hello": [], "broken": [], "tagged": []}
    for n in range(3):
        ids["hello"].append(
            (await wait_done(api, (await execute(api, hello["id"], params={"n": n}))["id"]))["id"]
        )
    for _ in range(2):
        ids["broken"].append((await wait_done(api, (await execute(api, broken["id"]))["id"]))["id"])
    tagged = await wait_done(api, (await execute(api, hello["id"], params={"n": 9}, tags=["old", "x"]))["id"])
    ids["tagged"].append(tagged["id"])
    slow = await create_pipeline(api, delay_definition(30), name="slow")
    running = await execute(api, slow["id"])

    bulk = "/budpipeline/executions/delete"
    dry = await json_of(api, "POST", bulk, json={"status": "failed", "dry_run": True}, expect=200)
    assert dry == {"deleted": 2, "dry_run": True}
    assert all(rows(server_config.db_path, i)["executions"] == 1 for i in ids["broken"])  # only counted

    assert await json_of(api, "POST", bulk, json={"tags": ["old", "x"]}, expect=200) == {
        "deleted": 1,
        "dry_run": False,
    }
    assert rows(server_config.db_path, tagged["id"]) == dict.fromkeys(
        rows(server_config.db_path, tagged["id"]), 0
    )
    assert (
        await json_of(api, "POST", bulk, json={"status": ["failed"], "pipeline_id": hello["id"]}, expect=200)
    )["deleted"] == 0
    assert (await json_of(api, "POST", bulk, json={"status": ["failed", "cancelled"]}, expect=200))[
        "deleted"
    ] == 2
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await json_of(api, "POST", bulk, json={"created_before": "2000-01-01"}, expect=200))[
        "deleted"
    ] == 0
    assert (await json_of(api, "POST", bulk, json={"created_before": future}, expect=200))["deleted"] == 3
    for execution_id in [*ids["hello"], *ids["broken"]]:
        assert rows(server_config.db_path, execution_id)["logs"] == 0
    left = await json_of(api, "GET", "/budpipeline/executions", expect=200)
    assert [item["id"] for item in left["items"]] == [running["id"]]
    await json_of(api, "POST", f"/budpipeline/executions/{running['id']}/cancel", expect=200)


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({}, "", "required"),
        ({"dry_run": True}, "", "required"),
        ({"tags": []}, "tags", "type"),
        ({"status": "running"}, "status", "enum"),
        ({"status": ["completed", "pending"]}, "status[1]", "enum"),
        ({"created_before": "yesterday"}, "created_before", "type"),
        ({"created_before": "0001-01-01T00:00:00+05:00"}, "created_before", "type"),
        ({"pipeline_id": "p", "older_than": 3}, "older_than", "unknown_field"),
        ({"pipeline_id": "p", "dry_run": "yes"}, "dry_run", "type"),
    ],
)
async def test_bulk_delete_refuses_bad_filters(
    api: TestClient[Any, Any], body: dict[str, Any], path: str, code: str
) -> None:
    answer = await json_of(api, "POST", "/budpipeline/executions/delete", json=body, expect=422)
    assert [(d["path"], d["code"]) for d in answer["error"]["details"]] == [(path, code)]


async def test_retention_purge_deletes_what_ended_before_the_cutoff(
    make_bud_server: Any, aiohttp_client: Any
) -> None:
    server: TestServer = await make_bud_server(retention_days=1.0)
    client: Client = await aiohttp_client(server)
    pipeline = await create_pipeline(client, HELLO)
    done = [
        await wait_done(client, (await execute(client, pipeline["id"], params={"n": n}))["id"])
        for n in range(2)
    ]
    assert await purge_expired(server.app) == 0  # they ended just now, within the day
    assert await purge_expired(server.app, now=datetime.now(UTC) + timedelta(hours=23)) == 0
    assert await purge_expired(server.app, now=datetime.now(UTC) + timedelta(days=1, minutes=1)) == 2
    for execution in done:
        await json_of(client, "GET", f"/budpipeline/executions/{execution['id']}", expect=404)


async def test_retention_timer_purges_while_the_server_runs(
    make_bud_server: Any, aiohttp_client: Any
) -> None:
    # 1e-6 days is 86 ms: executions expire almost at once and the timer checks every 20 ms.
    server: TestServer = await make_bud_server(retention_days=1e-6, retention_interval_seconds=0.02)
    client: Client = await aiohttp_client(server)
    pipeline = await create_pipeline(client, HELLO)
    done = await wait_done(client, (await execute(client, pipeline["id"], params={"n": 1}))["id"])
    async with asyncio.timeout(10):
        while True:
            if (await client.get(f"/budpipeline/executions/{done['id']}")).status == 404:
                break
            await asyncio.sleep(0.02)


async def test_no_retention_keeps_everything(api: TestClient[Any, Any], server_app: Any) -> None:
    pipeline = await create_pipeline(api, HELLO)
    done = await wait_done(api, (await execute(api, pipeline["id"], params={"n": 1}))["id"])
    assert await purge_expired(server_app, now=datetime.now(UTC) + timedelta(days=10_000)) == 0
    await json_of(api, "GET", f"/budpipeline/executions/{done['id']}", expect=200)


async def test_a_pending_callback_goes_with_its_execution(make_bud_server: Any, aiohttp_client: Any) -> None:
    # Nothing listens on the port: the first attempt fails and the next one is an hour away.
    server: TestServer = await make_bud_server(
        webhook_secret=SECRET, callback_retry_schedule=(0.0, 3600.0), callback_jitter=0.0
    )
    client: Client = await aiohttp_client(server)
    hook = f"http://127.0.0.1:{free_port()}/hook"
    pipeline = await create_pipeline(client, HELLO)
    created = await execute(client, pipeline["id"], params={"n": 1}, callbacks={"on_complete": hook})
    done = await wait_done(client, created["id"])
    delivery = await wait_delivery(client, done["id"], lambda d: d["attempt_count"] == 1)
    assert delivery["status"] == "pending"
    assert "budai_callbacks_pending 1" in await (await client.get("/metrics")).text()

    await json_of(client, "DELETE", f"/budpipeline/executions/{done['id']}", expect=204)

    assert rows(server.app[CONFIG].db_path, done["id"]) == dict.fromkeys(
        rows(server.app[CONFIG].db_path, done["id"]), 0
    )
    assert "budai_callbacks_pending 0" in await (await client.get("/metrics")).text()
