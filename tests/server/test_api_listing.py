"""GET /budpipeline/executions: every filter, sort, offset and cursor paging, and their bad values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import LOG_DEFINITION, Client, create_pipeline, execute, json_of, run, step, wait_done


async def ids(api: Client, query: list[tuple[str, str]] | None = None, **params: Any) -> list[str]:
    page = await json_of(api, "GET", "/budpipeline/executions", params=query or params, expect=200)
    return [item["id"] for item in page["items"]]


@pytest.fixture
async def history(api: Client) -> dict[str, Any]:
    """Two pipelines, five finished executions with tags, one failed."""
    first = await create_pipeline(api, LOG_DEFINITION, name="first")
    second = await create_pipeline(api, {"steps": [step("boom", "fail", message="x")]}, name="second")
    made: dict[str, Any] = {"first": first["id"], "second": second["id"]}
    specs = [
        ("a", first, ["prod", "customer-1"]),
        ("b", first, ["prod"]),
        ("c", second, ["prod", "customer-1"]),
        ("d", first, ["dev"]),
        ("e", first, []),
    ]
    for name, pipeline, tags in specs:
        created = await execute(api, pipeline["id"], params={"who": name}, tags=tags)
        made[name] = (await wait_done(api, created["id"]))["id"]
    return made


async def test_default_order_is_newest_first_with_totals(api: Client, history: dict[str, Any]) -> None:
    page = await json_of(api, "GET", "/budpipeline/executions", params={"limit": "2"}, expect=200)
    assert [item["id"] for item in page["items"]] == [history["e"], history["d"]]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 0)
    assert page["next_cursor"]


async def test_filters(api: Client, history: dict[str, Any]) -> None:
    h = history
    assert await ids(api, pipeline_id=h["second"]) == [h["c"]]
    assert await ids(api, status="failed") == [h["c"]]
    assert await ids(api, status="completed,failed") == [h["e"], h["d"], h["c"], h["b"], h["a"]]
    assert await ids(api, status="COMPLETED") == [h["e"], h["d"], h["b"], h["a"]]
    assert await ids(api, tags="prod") == [h["c"], h["b"], h["a"]]
    assert await ids(api, tags="prod,customer-1") == [h["c"], h["a"]]
    assert await ids(api, [("tags", "prod"), ("tags", "customer-1")]) == [h["c"], h["a"]]
    assert await ids(api, tags="prod", pipeline_id=h["first"], status="completed") == [h["b"], h["a"]]
    assert await ids(api, tags="nobody") == []


async def test_date_filters_take_dates_and_datetimes(api: Client, history: dict[str, Any]) -> None:
    everything = await ids(api)
    today = datetime.now(UTC).date()
    assert await ids(api, created_after=today.isoformat()) == everything
    assert await ids(api, created_before=today.isoformat()) == []
    assert await ids(api, created_after=(today + timedelta(days=1)).isoformat()) == []
    detail = await json_of(api, "GET", f"/budpipeline/executions/{history['c']}", expect=200)
    cut = detail["created_at"]
    assert await ids(api, created_after=cut) == [history["e"], history["d"], history["c"]]
    assert await ids(api, created_before=cut) == [history["b"], history["a"]]
    naive = datetime.fromisoformat(cut.replace("Z", "+00:00")).replace(tzinfo=None).isoformat()
    assert await ids(api, created_after=naive) == [history["e"], history["d"], history["c"]]


@pytest.mark.parametrize("sort_by", ["created_at", "completed_at", "status", "duration_seconds"])
async def test_sorting_and_cursor_paging_visit_every_row_once(
    api: Client, history: dict[str, Any], sort_by: str
) -> None:
    for order in ("asc", "desc"):
        everything = await json_of(
            api,
            "GET",
            "/budpipeline/executions",
            params={"sort_by": sort_by, "sort_order": order},
            expect=200,
        )
        expected = [item["id"] for item in everything["items"]]
        values = [item[sort_by] for item in everything["items"]]
        assert values == sorted(values, reverse=order == "desc")
        seen: list[str] = []
        params: dict[str, str] = {"sort_by": sort_by, "sort_order": order, "limit": "2"}
        while True:
            page = await json_of(api, "GET", "/budpipeline/executions", params=params, expect=200)
            seen += [item["id"] for item in page["items"]]
            assert page["total"] == 5
            if not page["next_cursor"]:
                break
            params = {"cursor": page["next_cursor"], "limit": "2"}
        assert seen == expected


async def test_offset_paging(api: Client, history: dict[str, Any]) -> None:
    everything = await ids(api, sort_order="asc")
    pages = [await ids(api, sort_order="asc", limit="2", offset=str(offset)) for offset in (0, 2, 4)]
    assert [item for page in pages for item in page] == everything


async def test_a_cursor_keeps_its_place_when_new_executions_arrive(
    api: Client, history: dict[str, Any]
) -> None:
    first = await json_of(api, "GET", "/budpipeline/executions", params={"limit": "2"}, expect=200)
    await run(api, LOG_DEFINITION, params={"who": "late"})
    second = await json_of(
        api,
        "GET",
        "/budpipeline/executions",
        params={"limit": "2", "cursor": first["next_cursor"]},
        expect=200,
    )
    assert [item["id"] for item in second["items"]] == [history["c"], history["b"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"status": "completed,nope"}, "status"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2024-13-01"}, "created_before"),
        ({"sort_by": "name"}, "sort_by"),
        ({"sort_order": "up"}, "sort_order"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"limit": "-3"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
async def test_bad_parameters_name_the_field(api: Client, params: dict[str, str], field: str) -> None:
    error = await json_of(api, "GET", "/budpipeline/executions", params=params, expect=422)
    assert error["error"]["code"] == "validation_error"
    assert [detail["path"] for detail in error["error"]["details"]] == [field]


async def test_a_cursor_refuses_another_sort_or_an_offset(api: Client, history: dict[str, Any]) -> None:
    page = await json_of(api, "GET", "/budpipeline/executions", params={"limit": "1"}, expect=200)
    cursor = page["next_cursor"]
    error = await json_of(
        api, "GET", "/budpipeline/executions", params={"cursor": cursor, "sort_by": "status"}, expect=422
    )
    assert [d["path"] for d in error["error"]["details"]] == ["cursor"]
    error = await json_of(
        api, "GET", "/budpipeline/executions", params={"cursor": cursor, "offset": "3"}, expect=422
    )
    assert [d["path"] for d in error["error"]["details"]] == ["offset"]
