"""Execution answers read straight from their bytes (`_fastdecode`) give exactly the reference model.

`decode_execution` takes a subset of what the dict fast path takes and returns None for the rest;
whatever it does return must equal what the generic converter makes of the same JSON. Every case
`test_fastpath` holds the dict path to is run through it here (as the bytes a server would send),
Hypothesis varies the values, and the real server's answers must take it through the SDK.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sdk_support import delay_step
from test_fastpath import (
    _DROP,
    BROKEN_CASES,
    FALLBACK_CASES,
    FAST_CASES,
    MODEL,
    OLD_SHAPE,
    OURS,
    REFERENCE,
    WORK_STEPS,
    _every_status,
    _real_answers,
    _step,
    _with,
)

from budai_async import AsyncBudClient
from budai_async._convert import make_page_reader, to_json_dict
from budai_async._fastdecode import decode_execution, decode_execution_page
from budai_async.errors import BudError
from budai_async.models import Execution, ExecutionStatus, Page, Priority, StepRun, StepStatus
from budai_async.resources import _base

# Our wire, as our server writes it: each must be read from the bytes (not left to the dict path).
BYTES_CASES: list[dict[str, Any]] = [
    OURS,
    *_every_status(),
    {"id": "exec_min"},
    to_json_dict(Execution(id="exec_defaults")),
    _with(steps=None, tags=None, callbacks=None, priority=None, outputs=None, params=None),
    _with(context=None, callback_topics=None, initiator=None, user_id=None, subscriber_ids=None),
    _with(status="INTERRUPTED", priority="urgent"),
    _with(status="RUNNING"),
    _with(progress=50),
    _with(progress={"percent_complete": 40}, progress_percentage=_DROP),
    _with(progress=_DROP, progress_percentage=_DROP),
    _with(steps=[]),
    _with(created_at=None, started_at="2026-03-14T10:00:00+02:00", completed_at="2026-03-14T10:00:00"),
    _step(run_status="retrying", status="running"),
    _step(run_status=None, status="failed"),
    _step(started_at="2026-03-14T10:00:00Z"),
    _step(1, step_id="out"),
    _with(outputs={"big": 10**30, "nested": [1.5, None, {"a": "é"}]}),
]
# What the dict fast path takes but the bytes path leaves to it (values of another type than ours).
DICT_PATH_CASES: list[dict[str, Any]] = [
    OLD_SHAPE,
    _with(initiator=5, payload_type=1.5, callback_topics=[1, "b"]),
    _with(id=12, pipeline_id=7, retry_of=3),
    _with(created_at=1_700_000_000),
    _step(attempts=3.0),
    _with(completed_steps=True),
    _with(extra_key_from_a_newer_server={"x": 1}),  # an undeclared key: the usual path, same model
    _step(extra_step_key=1),
    _with(progress={"percent_complete": 40, "extra": 1}),
]


def _body(data: Any) -> bytes:
    return json.dumps(data).encode()


def _reference(data: Any) -> Execution | type[Exception]:
    try:
        return REFERENCE.structure(copy.deepcopy(data), Execution)
    except Exception as exc:
        return type(exc)


@pytest.mark.parametrize("data", FAST_CASES + FALLBACK_CASES + BROKEN_CASES + BYTES_CASES + DICT_PATH_CASES)
def test_whatever_it_reads_equals_the_reference(data: Any) -> None:
    decoded = decode_execution(_body(data))
    assert decoded is None or decoded == _reference(data)


@pytest.mark.parametrize("data", BYTES_CASES)
def test_our_wire_is_read_from_the_bytes(data: dict[str, Any]) -> None:
    assert decode_execution(_body(data)) == _reference(data)


@pytest.mark.parametrize("data", FALLBACK_CASES + BROKEN_CASES + DICT_PATH_CASES)
def test_other_shapes_and_types_are_left_to_the_dict_path(data: Any) -> None:
    assert decode_execution(_body(data)) is None


@pytest.mark.parametrize("data", FAST_CASES + FALLBACK_CASES + BROKEN_CASES + DICT_PATH_CASES)
def test_read_execution_answers_as_parse_did(data: Any) -> None:
    """The resource's reader: the bytes path, else decode + `parse` (BudError for what does not fit)."""
    expected = _reference(data)
    if isinstance(expected, Execution):
        assert _base.read_execution(_body(data)) == expected
    else:
        with pytest.raises(BudError):
            _base.read_execution(_body(data))


def test_bodies_that_are_not_json_objects() -> None:
    for body in (b"", b"null", b"[]", b'"text"', b"{not json", b'{"id": "e", "progress": NaN}'):
        assert decode_execution(body) is None
    with pytest.raises(BudError):
        _base.read_execution(b"{not json")


@pytest.mark.parametrize(
    "body",
    [
        b'{"id":"e1","status":"running","note":"caf\xe9"}',  # invalid UTF-8 in a key it skips
        b'{"id":"e1","steps":[{"step_id":"s","name":"\xff"}]}',
        b'{"id":"e1","\xff":1}',
        b'{"id":"e1","note":"\xc0\x80"}',  # overlong UTF-8
        b'{"id":"e1","x":' + b"9" * 4301 + b"}",  # past the interpreter's int digit limit
    ],
)
def test_what_json_loads_refuses_in_unknown_keys_is_refused(body: bytes) -> None:
    """A typed decoder would skip unknown keys unread; every key is declared and others refuse the
    body, so such bodies still fail as they did (BudError), not decode."""
    assert decode_execution(body) is None
    with pytest.raises(BudError):
        _base.read_execution(body)


def test_the_model_round_trips() -> None:
    assert decode_execution(_body(OURS)) == MODEL


_texts = st.text(max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_texts, inner, max_size=3),
    max_leaves=8,
)
_when = st.none() | st.datetimes(timezones=st.timezones()).map(lambda value: value.isoformat())
_step_wire = st.fixed_dictionaries(
    {"step_id": st.text(min_size=0, max_size=5)},
    optional={
        "run_status": st.none() | st.sampled_from([*StepStatus, "", "PAUSED"]),
        "status": st.sampled_from([*StepStatus, "FAILED"]),
        "output": _json,
        "error": st.none() | _texts | st.integers(),
        "attempts": st.integers(0, 5) | st.floats(0, 5),
        "skip_reason": st.none() | _texts,
        "started_at": _when,
        "completed_at": _when | st.just("later"),
        "duration_seconds": st.none() | st.integers(0, 9) | st.floats(0, 9),
        "retry_count": st.integers(0, 2),
    },
)
_progress_object = st.fixed_dictionaries({"percent_complete": st.integers(0, 100) | st.floats(0, 100)})
_execution_wire = st.fixed_dictionaries(
    {"id": _texts | st.integers()},
    optional={
        "pipeline_id": st.none() | _texts,
        "status": st.sampled_from([*ExecutionStatus, "INTERRUPTED"]) | st.none(),
        "priority": st.none() | st.sampled_from([*Priority, "urgent"]),
        "params": st.none() | st.dictionaries(_texts, _json, max_size=3),
        "tags": st.none() | st.lists(_texts | st.integers(), max_size=3),
        "outputs": st.none() | st.dictionaries(_texts, _json, max_size=3) | _texts,
        "error": st.none() | _texts | st.just({"message": "x"}),
        "steps": st.none() | st.lists(_step_wire, max_size=3),
        "progress": st.none()
        | st.floats(0, 100)
        | st.fixed_dictionaries({"percent_complete": st.floats(0, 100)}),
        "progress_percentage": st.none() | st.just("40.00"),
        "completed_steps": st.integers(0, 3) | st.floats(0, 3),
        "created_at": _when | st.integers(0, 2**31),
        "duration_seconds": st.none() | st.floats(0, 9) | st.booleans(),
        "callbacks": st.none() | st.dictionaries(_texts, _texts | st.integers(), max_size=2),
        "context": st.none() | st.dictionaries(_texts, _json, max_size=2),
        "callback_topics": st.none() | st.lists(_texts, max_size=2),
        "workflow_id": _texts,
    },
)


@settings(max_examples=300, deadline=None)
@given(_execution_wire)
def test_varied_wires_read_the_same_as_the_reference(data: dict[str, Any]) -> None:
    decoded = decode_execution(_body(data))
    assert decoded is None or decoded == _reference(data)


async def test_real_answers_are_read_from_the_bytes(api: TestClient[web.Request, web.Application]) -> None:
    answers = await _real_answers(api)
    assert {answer["status"] for answer in answers} == {str(status) for status in ExecutionStatus}
    for answer in answers:
        assert decode_execution(_body(answer)) == _reference(answer)


async def test_the_sdk_reads_execution_answers_from_the_bytes(
    api: TestClient[web.Request, web.Application],
    bud_client: AsyncBudClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """get, wait (long-poll), create, run_ephemeral, retry and cancel: each answer read from its bytes."""
    read: list[Execution | None] = []

    def spy(body: bytes) -> Execution | None:
        read.append(decode_execution(body))
        return read[-1]

    monkeypatch.setattr(_base, "decode_execution", spy)
    pipeline = await bud_client.pipelines.create(name="bytes", definition={"steps": WORK_STEPS})
    failed = await bud_client.executions.create(pipeline.id, params={"fail": True}, wait=True, timeout=30)
    assert failed.status is ExecutionStatus.FAILED and failed.steps["f"].attempts == 2
    assert failed.steps["f"] == StepRun(
        status=StepStatus.FAILED,
        error=failed.steps["f"].error,
        attempts=2,
        started_at=failed.steps["f"].started_at,
        completed_at=failed.steps["f"].completed_at,
        duration_seconds=failed.steps["f"].duration_seconds,
    )
    fetched = await bud_client.executions.get(failed.id)
    assert fetched == failed
    retried = await bud_client.executions.retry(failed.id, params={"fail": False}, wait=True, timeout=30)
    assert retried.status is ExecutionStatus.COMPLETED and retried.retry_of == failed.id
    ephemeral = await bud_client.executions.run_ephemeral({"steps": WORK_STEPS[:2]}, wait=True, timeout=30)
    assert ephemeral.pipeline_id is None and ephemeral.outputs["ok"] is True
    slow = await bud_client.pipelines.create(name="slow", definition={"steps": [delay_step("d", 30)]})
    running = await bud_client.executions.create(slow.id)
    cancelled = await bud_client.executions.cancel(running.id)
    assert cancelled.status is ExecutionStatus.CANCELLED
    assert len(read) >= 8 and all(execution is not None for execution in read)
    raw = await api.get(f"/budpipeline/executions/{failed.id}")
    assert fetched == REFERENCE.structure(await raw.json(), Execution)


# ---- pages of executions (`executions.list`)

REFERENCE_PAGE = make_page_reader(REFERENCE)


def _reference_page(data: Any) -> Page[Execution] | type[Exception]:
    try:
        return REFERENCE_PAGE(copy.deepcopy(data), Execution)
    except Exception as exc:
        return type(exc)


PAGE_CASES: list[Any] = [
    {"items": BYTES_CASES, "total": 40, "limit": 20, "offset": 0, "next_cursor": None},
    {"items": [], "total": 0, "limit": 20, "offset": 0},
    {"items": [OURS], "next_cursor": "c_2"},
    {"items": [OURS, OLD_SHAPE]},  # one item for the dict path: the whole page goes there
    {"items": [OURS], "total": "40"},  # text where a number belongs
    {"items": [OURS], "pagination": {"page": 2, "page_size": 1, "total_count": 3}},  # the gateway's
    {"executions": [OURS]},  # the gateway's key
    [OURS],  # a plain list
    {"items": None, "other": [OURS]},
]


@pytest.mark.parametrize("data", PAGE_CASES)
def test_pages_read_as_the_reference_reads_them(data: Any) -> None:
    decoded = decode_execution_page(_body(data))
    assert decoded is None or decoded == _reference_page(data)
    assert _base.read_execution_page(_body(data)) == _reference_page(data)


def test_our_pages_are_read_from_the_bytes() -> None:
    for data in PAGE_CASES[:3]:
        assert decode_execution_page(_body(data)) == _reference_page(data)
    for data in PAGE_CASES[3:]:
        assert decode_execution_page(_body(data)) is None


@settings(max_examples=100, deadline=None)
@given(st.lists(_execution_wire, max_size=4), st.none() | st.integers(0, 9) | _texts)
def test_varied_pages_read_the_same_as_the_reference(items: list[dict[str, Any]], total: Any) -> None:
    data = {"items": items, "total": total, "limit": 4, "offset": 0}
    decoded = decode_execution_page(_body(data))
    assert decoded is None or decoded == _reference_page(data)


async def test_the_sdk_reads_list_pages_from_the_bytes(
    api: TestClient[web.Request, web.Application],
    bud_client: AsyncBudClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = await _real_answers(api)
    read: list[Page[Execution] | None] = []

    def spy(body: bytes) -> Page[Execution] | None:
        read.append(decode_execution_page(body))
        return read[-1]

    monkeypatch.setattr(_base, "decode_execution_page", spy)
    listed = [execution async for execution in bud_client.executions.list(limit=3)]
    raw = await api.get("/budpipeline/executions?limit=100")
    reference = _reference_page(await raw.json())
    assert isinstance(reference, Page) and len(reference.items) == len(listed) >= len(answers) // 3
    assert sorted(listed, key=lambda e: e.id) == sorted(reference.items, key=lambda e: e.id)
    assert len(read) >= 2 and all(page is not None for page in read)  # every page from its bytes
