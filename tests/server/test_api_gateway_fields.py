"""The gateway's request fields: accepted, stored, echoed, kept on retry, and refused when malformed."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import LOG_DEFINITION, Client, create_pipeline, json_of, wait_done

ORIGIN: dict[str, Any] = {
    "context": {"tenant": "t1", "trace": [1, 2]},
    "initiator": "budusecases",
    "user_id": "u-7",
    "callback_topics": ["progress", "progress", "done"],
    "subscriber_ids": "u-7,u-8",
    "payload_type": "usecase_deployment",
    "notification_workflow_id": "wf-42",
}


async def test_execute_and_run_store_the_gateway_fields_and_retry_keeps_them(api: Client) -> None:
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    created = await json_of(
        api,
        "POST",
        f"/budpipeline/{pipeline['id']}/execute",
        json={"params": {"who": "a"}, **ORIGIN},
        expect=201,
    )
    expected = {**ORIGIN, "callback_topics": ["progress", "done"]}
    assert {key: created[key] for key in ORIGIN} == expected
    done = await wait_done(api, created["id"])
    assert {key: done[key] for key in ORIGIN} == expected
    retried = await json_of(
        api, "POST", f"/budpipeline/executions/{done['id']}/retry", json={"initiator": "retrier"}, expect=201
    )
    assert {key: retried[key] for key in ORIGIN} == {**expected, "initiator": "retrier"}
    ran = await json_of(
        api,
        "POST",
        "/budpipeline/run",
        json={
            "pipeline_definition": LOG_DEFINITION,
            "params": {"who": "b"},
            "context": None,
            "user_id": "u-1",
        },
        expect=201,
    )
    assert (ran["context"], ran["user_id"], ran["callback_topics"], ran["initiator"]) == ({}, "u-1", [], None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"context": "x"}, "context"),
        ({"callback_topics": "topic"}, "callback_topics"),
        ({"callback_topics": ["ok", ""]}, "callback_topics[1]"),
        ({"notification_workflow_id": "w" * 256}, "notification_workflow_id"),
        ({"initiator": 3}, "initiator"),
        ({"payload_typo": "x"}, "payload_typo"),
    ],
)
async def test_malformed_gateway_fields_are_422_naming_the_field(
    api: Client, body: dict[str, Any], field: str
) -> None:
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    error = await json_of(api, "POST", f"/budpipeline/{pipeline['id']}/execute", json=body, expect=422)
    assert [detail["path"] for detail in error["error"]["details"]] == [field]


async def test_gateway_paging_and_status_alias_on_the_execution_list(api: Client) -> None:
    pipeline = await create_pipeline(api, LOG_DEFINITION)
    ids = []
    for who in ("a", "b", "c"):
        created = await json_of(
            api, "POST", f"/budpipeline/{pipeline['id']}/execute", json={"params": {"who": who}}, expect=201
        )
        ids.append((await wait_done(api, created["id"]))["id"])
    page = await json_of(
        api,
        "GET",
        "/budpipeline/executions",
        params={"page": "2", "per_page": "2", "sort_order": "asc"},
        expect=200,
    )
    assert ([e["id"] for e in page["items"]], page["limit"], page["offset"]) == ([ids[2]], 2, 2)
    sized = await json_of(api, "GET", "/budpipeline/executions", params={"page_size": "1"}, expect=200)
    assert [e["id"] for e in sized["items"]] == [ids[2]]
    assert (await json_of(api, "GET", "/budpipeline/executions", params={"status": "timed_out"}, expect=200))[
        "items"
    ] == []
    error = await json_of(api, "GET", "/budpipeline", params={"per_page": "0"}, expect=422)
    assert [detail["path"] for detail in error["error"]["details"]] == ["per_page"]
