"""The hand-compiled Execution/StepRun hooks give exactly what the generic converter gives.

The fast path handles our server's shapes only: the wire `execution_wire` writes (steps a list of
step objects with ids, progress an object) and the older one (steps a mapping, progress a number).
Every other shape (the gateway's names and step objects, odd value types) must reach the generic
path, so each case here is structured by both converters and the results (or the failure) must
agree. The last tests take real answers of the real server and check that the SDK never falls back.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from cattrs.gen import make_dict_unstructure_fn
from sdk_support import delay_step, fail_step, log_step

from budai_async import AsyncBudClient, _convert
from budai_async._convert import converter, make_converter, to_json_dict
from budai_async._fastpath import fast_callback_event, fast_execution, fast_step, parse_datetime
from budai_async.models import CallbackEvent, Execution, ExecutionStatus, Priority, StepRun, StepStatus

REFERENCE = make_converter(fast_paths=False)
T0 = datetime(2026, 3, 14, 10, 0, 0, 123456, tzinfo=UTC)

MODEL = Execution(
    id="exec_1",
    pipeline_id="pipe_1",
    status=ExecutionStatus.COMPLETED,
    priority=Priority.HIGH,
    params={"a": 1, "nested": {"b": [1, 2]}},
    tags=["x", "y"],
    outputs={"ok": True},
    steps={
        "out": StepRun(
            status=StepStatus.COMPLETED,
            output={"ok": True},
            attempts=2,
            started_at=T0,
            completed_at=T0 + timedelta(seconds=1),
            duration_seconds=1.0,
        ),
        "skipped": StepRun(status=StepStatus.SKIPPED, skip_reason="condition_false"),
    },
    progress=100.0,
    completed_steps=1,
    total_steps=2,
    created_at=T0,
    started_at=T0,
    completed_at=T0,
    duration_seconds=0.5,
    cpu_seconds=0.01,
    peak_memory_mb=40.0,
    retry_of="exec_0",
    timeout_seconds=30.0,
    callbacks={"on_complete": "http://127.0.0.1/cb"},
    context={"tenant": "t1", "n": [1, 2]},
    initiator="ops",
    user_id="u_1",
    callback_topics=["done"],
    subscriber_ids="s1,s2",
    payload_type="pipeline",
    notification_workflow_id="nw_1",
)
OURS: dict[str, Any] = to_json_dict(MODEL)  # the wire our server writes (`execution_wire`)
OLD_SHAPE: dict[str, Any] = make_dict_unstructure_fn(Execution, converter)(MODEL)  # before the wire


def _with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(OURS)
    for key, value in changes.items():
        if value is _DROP:
            data.pop(key, None)
        else:
            data[key] = value
    return data


_DROP = object()


def _step(index: int = 0, **changes: Any) -> dict[str, Any]:
    """`OURS` with changes to one of its wire step objects (`_DROP` removes a key)."""
    data = copy.deepcopy(OURS)
    item = data["steps"][index]
    for key, value in changes.items():
        if value is _DROP:
            item.pop(key, None)
        else:
            item[key] = value
    return data


def _every_status() -> list[dict[str, Any]]:
    """One wire execution per execution status, each holding one step per step status."""
    steps = {
        f"s_{status}": StepRun(status=status, error="e" if status == "failed" else None, attempts=2)
        for status in StepStatus
    }
    return [
        to_json_dict(Execution(id=f"e_{status}", status=status, steps=steps)) for status in ExecutionStatus
    ]


FAST_CASES: list[dict[str, Any]] = [
    OURS,
    OLD_SHAPE,
    *_every_status(),
    {"id": "exec_min"},
    to_json_dict(Execution(id="exec_defaults")),
    _with(steps=None, tags=None, callbacks=None, priority=None, outputs=None, params=None),
    _with(context=None, callback_topics=None, initiator=None, user_id=None, subscriber_ids=None),
    _with(initiator=5, payload_type=1.5, callback_topics=[1, "b"]),  # cattrs' str() of non-strings
    _with(status="INTERRUPTED", priority="urgent"),  # unknown enum values are kept
    _with(status="RUNNING"),  # upper case reads as the known member
    _with(progress=50),
    _with(progress={"percent_complete": 40}, progress_percentage=_DROP),
    _with(progress=_DROP, progress_percentage=_DROP),
    _with(steps=[]),
    _with(id=12, pipeline_id=7, retry_of=3),
    _with(
        created_at=1_700_000_000, started_at="2026-03-14T10:00:00+02:00", completed_at="2026-03-14T10:00:00"
    ),
    _with(extra_key_from_a_newer_server={"x": 1}),
    _step(run_status="retrying", status="running"),  # our status wins over the gateway's
    _step(run_status=None, status="failed"),  # no run_status: the gateway status is read
    _step(run_status=_DROP, status=_DROP),
    _step(output=_DROP, attempts=3.0, started_at="2026-03-14T10:00:00Z"),
    _step(1, step_id="out"),  # a repeated step id: the last one wins, as in `steps_from_wire`
    _with(steps={"a": {"status": "retrying", "attempts": 3.0, "started_at": "2026-03-14T10:00:00Z"}}),
    {**OLD_SHAPE, "steps": OURS["steps"]},
]

FALLBACK_CASES: list[Any] = [
    _with(steps=[{"id": "a", "status": "completed", "output": {"v": 1}}]),  # no step_id: not ours
    _step(step_id=_DROP),
    _step(step_id=""),
    _step(retry_count=1),  # the gateway's step object
    _step(outputs={"x": 1}),
    _step(error_message="boom"),
    _step(start_time="2026-03-14T10:00:00Z", end_time=None),
    _step(error={"message": "boom"}),
    _with(steps=["a", *OURS["steps"]]),  # an item that is no object
    _with(progress={"percent": 40.0}),  # progress object without percent_complete
    _with(progress={"percent_complete": "40"}),
    _with(progress={"percent_complete": True}),
    _with(progress=_DROP, progress_percentage="40.5"),
    _with(progress=None),
    _with(progress="40"),
    _with(progress=True),
    _with(error={"message": "boom"}),  # the gateway's error object
    _with(id=_DROP, execution_id="exec_gw", workflow_id="wf", final_outputs={"x": 1}, start_time=None),
    {"execution": {"execution_id": "e", "status": "RUNNING"}, "steps": [], "aggregated_progress": {}},
    _with(steps={"a": {"status": "completed", "error": {"message": "x"}}}),
    _with(tags="abc"),
    _with(callback_topics="abc"),
]

BROKEN_CASES: list[Any] = [
    _with(completed_steps="many"),
    _with(created_at="not a date"),
    _with(steps={"a": {"attempts": "x"}}),
    _step(attempts="x"),
    _step(run_status=5),
    _step(completed_at="later"),
    _with(status=None),
    _with(id=_DROP),
    _with(callbacks=[["on_complete", "u"]]),
    _with(context="abc"),
    _with(context=[["k", 1]]),
    _with(steps="abc"),
    [OURS],
]


def _reference_or_error(data: Any) -> Any:
    try:
        return REFERENCE.structure(copy.deepcopy(data), Execution)
    except Exception as exc:  # the failure itself is what is compared
        return type(exc)


def _ours_or_error(data: Any) -> Any:
    try:
        return converter.structure(copy.deepcopy(data), Execution)
    except Exception as exc:
        return type(exc)


@pytest.mark.parametrize("data", FAST_CASES + FALLBACK_CASES)
def test_same_model_as_the_generic_converter(data: dict[str, Any]) -> None:
    expected = _reference_or_error(data)
    assert isinstance(expected, Execution)
    assert _ours_or_error(data) == expected


@pytest.mark.parametrize("data", FAST_CASES)
def test_our_server_shape_takes_the_fast_path(data: dict[str, Any]) -> None:
    assert fast_execution(copy.deepcopy(data)) == REFERENCE.structure(copy.deepcopy(data), Execution)


@pytest.mark.parametrize("data", FALLBACK_CASES + BROKEN_CASES)
def test_other_shapes_are_left_to_the_generic_path(data: Any) -> None:
    assert fast_execution(data) is None


@pytest.mark.parametrize("data", BROKEN_CASES)
def test_bad_values_fail_the_same_way(data: Any) -> None:
    expected = _reference_or_error(data)
    assert isinstance(expected, type) and issubclass(expected, Exception)
    assert _ours_or_error(data) is expected


def test_the_wire_round_trips_every_field() -> None:
    assert fast_execution(OURS) == MODEL
    assert fast_execution(OLD_SHAPE) == MODEL
    assert isinstance(OURS["steps"], list) and isinstance(OURS["progress"], dict)  # the new wire
    assert "progress_percentage" in OURS and "progress_percentage" not in OLD_SHAPE


def test_steps_structure_alone_like_the_generic_converter() -> None:
    for raw in [*OURS["steps"], *OLD_SHAPE["steps"].values(), *_every_status()[0]["steps"]]:
        assert fast_step(raw) == REFERENCE.structure(raw, StepRun) == converter.structure(raw, StepRun)
    assert fast_step({"error": 5}) is None
    assert converter.structure({"error": 5}, StepRun) == REFERENCE.structure({"error": 5}, StepRun)


def _old_parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-14T10:00:00Z",
        "2026-03-14T10:00:00.123456Z",
        "2026-03-14T10:00:00.123Z",
        "2026-03-14T10:00:00+05:30",
        "2026-03-14T10:00:00",
        "2026-03-14 10:00:00Z",
        "2026-03-14",
    ],
)
def test_datetime_fast_path_reads_what_the_old_parser_read(text: str) -> None:
    assert parse_datetime(text) == _old_parse(text)
    assert parse_datetime(text).tzinfo is not None


def test_datetime_other_inputs() -> None:
    naive = datetime(2026, 1, 1)
    assert parse_datetime(naive) == naive.replace(tzinfo=UTC)
    aware = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert parse_datetime(aware) is aware
    assert parse_datetime(0) == datetime(1970, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_datetime("yesterday")
    with pytest.raises(ValueError):
        parse_datetime([1])


EVENT: dict[str, Any] = {
    "type": "execution.completed",
    "execution_id": "exec_1",
    "pipeline_id": "pipe_1",
    "status": "completed",
    "outputs": {"answer": 42},
    "error": None,
    "tags": ["a"],
    "params": {"p": 1},
    "completed_at": "2025-01-01T00:00:00Z",
    "duration_seconds": 1.5,
}


@pytest.mark.parametrize(
    ("changes", "fast"),
    [
        ({}, True),
        ({"status": "FAILED", "error": "boom", "duration_seconds": 2}, True),
        ({"new_field": 1, "completed_at": None, "pipeline_id": None}, True),
        ({"status": "paused"}, True),
        ({"error": {"message": "x"}}, False),
        ({"outputs": None}, False),
        ({"tags": None}, False),
        ({"tags": "a"}, False),
        ({"execution_id": 5}, False),
        ({"completed_at": "soon"}, False),
    ],
)
def test_callback_events_match_the_generic_converter(changes: dict[str, Any], fast: bool) -> None:
    data = {**EVENT, **changes}
    assert (fast_callback_event(data) is not None) is fast
    try:
        expected: Any = REFERENCE.structure(copy.deepcopy(data), CallbackEvent)
    except Exception as exc:
        with pytest.raises(type(exc)):
            converter.structure(copy.deepcopy(data), CallbackEvent)
    else:
        assert converter.structure(copy.deepcopy(data), CallbackEvent) == expected


# ---- real answers of the real server (tests/conftest.py's app), raw and through the SDK

GATEWAY_FIELDS: dict[str, Any] = {
    "context": {"tenant": "t1", "n": [1, 2]},
    "initiator": "ops",
    "user_id": "u_1",
    "callback_topics": ["done", "audit"],
    "subscriber_ids": "s1,s2",
    "payload_type": "pipeline",
    "notification_workflow_id": "nw_1",
}
WORK_STEPS = [
    log_step("a"),
    {"id": "o", "action": "set_output", "params": {"values": {"ok": True, "n": 1}}},
    fail_step("f", condition="params.fail", retry={"max_attempts": 2, "initial_delay_seconds": 0.01}),
    log_step("s", condition="params.no"),  # skipped (condition_false)
]


@pytest.fixture
def generic_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Ids of the executions the generic path structured (`normalize_execution` reads progress once)."""
    calls: list[Any] = []
    real = _convert.progress_from_wire

    def counting(data: Mapping[str, Any]) -> float:
        calls.append(data.get("id"))
        return real(data)

    monkeypatch.setattr(_convert, "progress_from_wire", counting)
    return calls


async def _json(response: ClientResponse, status: int = 200) -> Any:
    assert response.status == status, await response.text()
    return await response.json()


async def _real_answers(api: TestClient[web.Request, web.Application]) -> list[dict[str, Any]]:
    """Create, get, wait, list, retry, cancel and time out executions; every raw execution body."""
    answers: list[dict[str, Any]] = []
    work = await _json(
        await api.post("/budpipeline", json={"name": "fast", "definition": {"steps": WORK_STEPS}}), 201
    )
    slow = {"name": "slow", "definition": {"steps": [delay_step("d", 30.0)]}}
    slow_id = (await _json(await api.post("/budpipeline", json=slow), 201))["id"]
    for fail in (True, False):
        body = {"params": {"fail": fail}, "tags": ["t"], **GATEWAY_FIELDS}
        created = await _json(await api.post(f"/budpipeline/{work['id']}/execute", json=body), 201)
        answers.append(created)
        answers.append(await _json(await api.get(f"/budpipeline/executions/{created['id']}?wait=10")))
        answers.append(await _json(await api.get(f"/budpipeline/executions/{created['id']}")))
    retried = await _json(await api.post(f"/budpipeline/executions/{answers[0]['id']}/retry", json={}), 201)
    answers.append(await _json(await api.get(f"/budpipeline/executions/{retried['id']}?wait=10")))
    running = await _json(await api.post(f"/budpipeline/{slow_id}/execute", json=GATEWAY_FIELDS), 201)
    async with asyncio.timeout(10):  # until the delay step has started (no timed assertion)
        for _ in iter(int, 1):
            seen = await _json(await api.get(f"/budpipeline/executions/{running['id']}"))
            if seen["status"] == "running":
                break
            await asyncio.sleep(0.01)
    answers.append(seen)
    answers.append(await _json(await api.post(f"/budpipeline/executions/{running['id']}/cancel")))
    limited = await _json(
        await api.post(f"/budpipeline/{slow_id}/execute", json={"timeout_seconds": 0.2}), 201
    )
    answers.append(await _json(await api.get(f"/budpipeline/executions/{limited['id']}?wait=10")))
    answers.extend((await _json(await api.get("/budpipeline/executions?limit=100")))["items"])
    return answers


async def test_real_answers_take_the_fast_path_and_match_the_reference(
    api: TestClient[web.Request, web.Application],
) -> None:
    answers = await _real_answers(api)
    assert {answer["status"] for answer in answers} == {str(status) for status in ExecutionStatus}
    for answer in answers:
        assert isinstance(answer["steps"], list) and "progress_percentage" in answer  # the new wire
        fast = fast_execution(copy.deepcopy(answer))
        assert fast is not None, answer
        assert (
            fast
            == REFERENCE.structure(copy.deepcopy(answer), Execution)
            == converter.structure(answer, Execution)
        )
    failed = next(fast_execution(a) for a in answers if a["status"] == "failed" and a["retry_of"] is None)
    assert failed is not None
    assert failed.steps["f"].status is StepStatus.FAILED and failed.steps["f"].attempts == 2
    assert failed.steps["f"].error == "boom" and failed.error and "boom" in failed.error
    assert failed.steps["s"].skip_reason == "condition_false" and failed.outputs["n"] == 1
    assert failed.steps["a"].output and failed.steps["a"].started_at is not None
    assert {name: getattr(failed, name) for name in GATEWAY_FIELDS} == GATEWAY_FIELDS
    assert any(a["retry_of"] == failed.id for a in answers)


async def test_the_sdk_never_falls_back_for_our_server(
    api: TestClient[web.Request, web.Application], bud_client: AsyncBudClient, generic_calls: list[Any]
) -> None:
    answers = await _real_answers(api)
    generic_calls.clear()
    page = await bud_client.executions.list(limit=100)
    got, waited = [], []
    for execution in page:
        got.append(await bud_client.executions.get(execution.id))
        waited.append(await bud_client.executions.wait(execution.id, timeout=10))
    pipeline = await bud_client.pipelines.create(name="sdk", definition={"steps": WORK_STEPS})
    done = await bud_client.executions.create(pipeline.id, params={"fail": True}, wait=True, timeout=30)
    assert done.status is ExecutionStatus.FAILED and done.steps["f"].attempts == 2
    assert generic_calls == []  # list, get, wait, create(wait=True): all on the fast path
    by_id = {answer["id"]: answer for answer in answers}
    assert len(page) == len(by_id) > 3
    for execution, fetched, ended in zip(page, got, waited, strict=True):
        assert (
            execution
            == fetched
            == ended
            == REFERENCE.structure(copy.deepcopy(by_id[execution.id]), Execution)
        )
    assert generic_calls  # the counter does see the generic path (the reference's calls just now)
