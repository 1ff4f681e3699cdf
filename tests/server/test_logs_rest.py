"""`GET /budpipeline/executions/{id}/logs`: filters, `since` forms, paging, 422 and 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from logs_support import Driver, with_log_settings

from budai_server.routes.logs import parse_log_query

Client = TestClient[Any, Any]


@pytest.fixture
def server_app(server_app: web.Application) -> web.Application:
    """The real app (tests/conftest.py) with small log-bus settings."""
    return with_log_settings(server_app)


@pytest.fixture
def client(api: Client) -> Client:
    return api


@pytest.fixture
def driver(client: Client) -> Driver:
    return Driver(client.server.app)


async def get_logs(client: Client, execution_id: str, **query: str) -> tuple[int, Any]:
    response = await client.get(f"/budpipeline/executions/{execution_id}/logs", params=query)
    return response.status, await response.json()


async def test_lines_come_back_in_seq_order_with_the_wire_fields(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    driver.emit(execution_id, 3, step_id="build")
    await driver.settle()
    driver.emit(execution_id, 2, level="error")  # these are still in memory only
    status, body = await get_logs(client, execution_id)
    assert status == 200
    assert [item["seq"] for item in body["items"]] == [1, 2, 3, 4, 5]
    assert body["next_seq"] is None
    first = body["items"][0]
    assert first["level"] == "info" and first["step_id"] == "build" and first["message"] == "line 0"
    assert first["execution_id"] == execution_id
    assert datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00")) <= datetime.now(UTC)
    assert body["items"][3]["level"] == "error" and body["items"][3]["step_id"] is None


async def test_level_is_a_minimum_and_step_id_selects_one_step(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    for level in ("debug", "info", "warning", "error"):
        driver.emit(execution_id, 1, level=level, step_id="a")
        driver.emit(execution_id, 1, level=level, step_id="b")
    await driver.settle()
    _, body = await get_logs(client, execution_id, level="warning")
    assert [(i["level"], i["step_id"]) for i in body["items"]] == [
        ("warning", "a"),
        ("warning", "b"),
        ("error", "a"),
        ("error", "b"),
    ]
    _, body = await get_logs(client, execution_id, step_id="b", level="WARN")
    assert [(i["seq"], i["level"]) for i in body["items"]] == [(6, "warning"), (8, "error")]
    _, body = await get_logs(client, execution_id, step_id="nope")
    assert body == {"items": [], "next_seq": None}


@pytest.mark.parametrize("since", ["30s", "5m", "2h", "1d"])
async def test_since_durations_cut_off_older_lines(client: Client, driver: Driver, since: str) -> None:
    execution_id = await driver.create()
    driver.emit(execution_id, 2)
    await driver.settle()
    # Age the stored lines: move the first one back three days, the second back 90 minutes.
    await driver.store.db.execute(
        "UPDATE execution_logs SET ts = ts - CASE seq WHEN 1 THEN 259200 ELSE 5400 END "
        "WHERE execution_id = ?",
        (execution_id,),
    )
    await driver.store.db.commit()
    driver.emit(execution_id, 1)
    _, body = await get_logs(client, execution_id, since=since)
    expected = {"30s": [3], "5m": [3], "2h": [2, 3], "1d": [2, 3]}[since]
    assert [item["seq"] for item in body["items"]] == expected


async def test_since_takes_an_iso_time(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    driver.emit(execution_id, 2)
    await driver.settle()
    cut = datetime.now(UTC)
    driver.emit(execution_id, 2)
    await driver.settle()
    _, body = await get_logs(client, execution_id, since=cut.isoformat())
    assert [item["seq"] for item in body["items"]] == [3, 4]
    _, body = await get_logs(
        client, execution_id, since=(cut - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    assert len(body["items"]) == 4


async def test_pages_follow_next_seq_to_the_end(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    driver.emit(execution_id, 25)
    await driver.settle()
    seen: list[int] = []
    after = 0
    pages = 0
    while True:
        _, body = await get_logs(client, execution_id, after_seq=str(after), limit="10")
        pages += 1
        seen.extend(item["seq"] for item in body["items"])
        if body["next_seq"] is None:
            break
        after = body["next_seq"]
    assert seen == list(range(1, 26))
    assert pages == 3


async def test_empty_values_count_as_absent(client: Client, driver: Driver) -> None:
    execution_id = await driver.create()
    driver.emit(execution_id, 2, level="debug")
    await driver.settle()
    status, body = await get_logs(client, execution_id, level="", since="", step_id="", after_seq="")
    assert status == 200 and len(body["items"]) == 2


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({"level": "loud"}, ["level"]),
        ({"since": "yesterday"}, ["since"]),
        ({"since": "-5m"}, ["since"]),
        ({"since": "5"}, ["since"]),
        ({"after_seq": "-1"}, ["after_seq"]),
        ({"after_seq": "one"}, ["after_seq"]),
        ({"limit": "0"}, ["limit"]),
        ({"limit": "10001"}, ["limit"]),
        ({"level": "x", "since": "y", "limit": "z"}, ["level", "since", "limit"]),
    ],
)
async def test_bad_parameters_get_422_naming_each_field(
    client: Client, driver: Driver, query: dict[str, str], fields: list[str]
) -> None:
    execution_id = await driver.create()
    status, body = await get_logs(client, execution_id, **query)
    assert status == 422
    assert body["error"]["code"] == "validation_error"
    assert [detail["path"] for detail in body["error"]["details"]] == fields
    for field in fields:
        assert field in body["error"]["message"]


async def test_unknown_execution_is_404(client: Client) -> None:
    status, body = await get_logs(client, "exec_missing")
    assert status == 404
    assert body["error"]["code"] == "not_found"
    assert "exec_missing" in body["error"]["message"]


async def test_bad_parameters_are_checked_before_existence(client: Client) -> None:
    status, _ = await get_logs(client, "exec_missing", level="loud")
    assert status == 422


def test_drop_every_is_honoured_only_with_test_hooks() -> None:
    now = datetime.now(UTC)
    plain = parse_log_query({"drop_every": "5"}, now=now)
    hooked = parse_log_query({"drop_every": "5"}, now=now, test_hooks=True)
    bad = parse_log_query({"drop_every": "0"}, now=now, test_hooks=True)
    assert not isinstance(plain, list) and plain.drop_every is None
    assert not isinstance(hooked, list) and hooked.drop_every == 5
    assert isinstance(bad, list) and [error.field for error in bad] == ["drop_every"]
