"""Timestamp filters at the edge of the calendar answer 422, never 500."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import Client, json_of


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "0001-01-01T03:00:00+04:00", "not a date"])
async def test_a_timestamp_out_of_range_is_a_422(api: Client, value: str) -> None:
    answer = await json_of(
        api, "GET", "/budpipeline/executions", params={"created_before": value}, expect=422
    )
    assert [d["path"] for d in answer["error"]["details"]] == ["created_before"]


async def test_a_timestamp_with_an_offset_is_read_in_utc(api: Client) -> None:
    page: Any = await json_of(
        api,
        "GET",
        "/budpipeline/executions",
        params={"created_after": "2024-01-01T05:00:00+05:00"},
        expect=200,
    )
    assert page["items"] == []
