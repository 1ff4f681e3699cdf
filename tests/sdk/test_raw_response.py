"""`client.with_raw_response`: status, headers, request id and the parsed model, against the real server."""

from __future__ import annotations

import pytest
from sdk_support import log_step

from budai_async import AsyncBudClient, BudError, Execution, NotFoundError, Pipeline
from budai_async._raw import APIResponse, raw_response


async def test_get_gives_status_headers_request_id_and_model(bud_client: AsyncBudClient) -> None:
    created = await bud_client.pipelines.create(name="raw", definition={"steps": [log_step("a")]})
    raw = await bud_client.with_raw_response.pipelines.get(created.id)
    assert isinstance(raw, APIResponse)
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.request_id is not None and raw.request_id.startswith("req_")
    assert isinstance(raw.parsed, Pipeline) and raw.parse() == raw.parsed
    assert raw.parsed.id == created.id
    assert "headers" not in repr(raw)


async def test_create_answers_201_with_its_own_request_id(bud_client: AsyncBudClient) -> None:
    first = await bud_client.with_raw_response.pipelines.create(
        name="a", definition={"steps": [log_step("a")]}
    )
    second = await bud_client.with_raw_response.pipelines.create(
        name="b", definition={"steps": [log_step("a")]}
    )
    assert first.status_code == second.status_code == 201
    assert first.request_id != second.request_id


async def test_a_waiting_call_reports_its_last_answer_and_keeps_all(bud_client: AsyncBudClient) -> None:
    pipeline = await bud_client.pipelines.create(name="w", definition={"steps": [log_step("a")]})
    raw = await bud_client.with_raw_response.executions.create(pipeline.id, wait=True, timeout=30)
    assert isinstance(raw.parsed, Execution) and raw.parsed.status == "completed"
    assert len(raw.responses) >= 2
    assert raw.responses[0].response.status == 201
    assert raw.status_code == raw.responses[-1].response.status == 200


async def test_typed_form_and_errors(bud_client: AsyncBudClient) -> None:
    pipeline = await bud_client.pipelines.create(name="t", definition={"steps": [log_step("a")]})
    raw: APIResponse[Pipeline] = await raw_response(bud_client.pipelines.get, pipeline.id)
    assert raw.parsed.name == "t"
    with pytest.raises(NotFoundError) as caught:
        await bud_client.with_raw_response.executions.get("exec_missing")
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")


async def test_streams_have_no_raw_response_and_plain_calls_record_nothing(
    bud_client: AsyncBudClient,
) -> None:
    with pytest.raises(BudError, match="no raw response"):
        await bud_client.with_raw_response.executions.logs("exec_x", follow=True)
    with pytest.raises(AttributeError):
        await bud_client.with_raw_response.executions.no_such_method()
    from budai_async._http import recording_responses

    await bud_client.pipelines.list()
    assert recording_responses.get() is None


async def test_every_resource_has_a_raw_view(bud_client: AsyncBudClient) -> None:
    """schedules, webhooks and event_triggers too, not only the first three resources."""
    pipeline = await bud_client.pipelines.create(name="raw all", definition={"steps": [log_step("a")]})
    raw = bud_client.with_raw_response
    schedule = await raw.schedules.create(pipeline.id, name="nightly", cron="0 2 * * *")
    assert schedule.status_code == 201 and schedule.parsed.name == "nightly"
    assert (await raw.schedules.next_runs(schedule.parsed.id, count=2)).status_code == 200
    hook = await raw.webhooks.create(pipeline.id, name="on push")
    assert hook.status_code == 201 and hook.request_id is not None
    trigger = await raw.event_triggers.create(pipeline.id, name="chain", event_type="execution.failed")
    assert (await raw.event_triggers.get(trigger.parsed.id)).parsed.id == trigger.parsed.id
    actions = await raw.actions.list()
    assert actions.status_code == 200 and len(actions.parsed) > 0
    deleted = await raw.schedules.delete(schedule.parsed.id)
    assert deleted.status_code == 204 and deleted.parsed is None
    assert repr(raw.executions) == "<raw ExecutionsResource>"
    listed = await raw.webhooks.list(pipeline_id=pipeline.id)  # a list call: its first page
    assert listed.status_code == 200 and [w.name for w in listed.parsed] == ["on push"]
    assert listed.parsed.total == 1
