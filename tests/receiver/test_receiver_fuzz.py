"""Hypothesis against the running app: never a 500, and forged, stale or altered deliveries are
neither stored nor dispatched; timestamps at the ±300 s edges; rotation between secrets."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rx_support import FOREIGN_SECRET, OLD_SECRET, PATH, SECRET, Recorder, Serve, payload, wait_for

from budai_async.webhooks import sign
from receiver import Receiver

NOW = 1_700_000_000
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
header_junk = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60)


@attrs.frozen
class Plan:
    body_kind: str
    json_value: Any
    raw: bytes
    id_kind: str
    id_junk: str
    ts_kind: str
    ts_offset: int
    ts_junk: str
    sig_kind: str
    sig_junk: str
    content_type: str


plans = st.builds(
    Plan,
    body_kind=st.sampled_from(["completed", "failed", "other_type", "json", "bytes", "event_bad_field"]),
    json_value=json_values,
    raw=st.binary(max_size=200),
    id_kind=st.sampled_from(["ok", "ok", "missing", "junk"]),
    id_junk=header_junk,
    ts_kind=st.sampled_from(["ok", "ok", "missing", "junk"]),
    ts_offset=st.integers(-1000, 1000),
    ts_junk=header_junk,
    sig_kind=st.sampled_from(["ok", "ok", "both", "foreign", "junk", "missing", "altered_body", "v2"]),
    sig_junk=header_junk,
    content_type=st.sampled_from(
        ["application/json", "application/json", "application/json; charset=utf-8", "text/plain", "", "x/y"]
    ),
)


def _body(plan: Plan, execution_id: str) -> bytes:
    if plan.body_kind in ("completed", "failed"):
        return payload(execution_id, f"execution.{plan.body_kind}")
    if plan.body_kind == "other_type":
        return payload(execution_id, "execution.cancelled", status="cancelled")
    if plan.body_kind == "event_bad_field":
        return payload(
            execution_id, outputs=plan.json_value if not isinstance(plan.json_value, dict) else "x"
        )
    if plan.body_kind == "json":
        return json.dumps(plan.json_value).encode()
    return plan.raw


def _request(plan: Plan, execution_id: str) -> tuple[str, bytes, dict[str, str], bool]:
    """Build the request; returns (msg_id, body, headers, authentic)."""
    msg_id = f"msg_{uuid.uuid4().hex}"
    body = _body(plan, execution_id)
    timestamp = NOW + plan.ts_offset
    headers: dict[str, str] = {}
    if plan.content_type:
        headers["Content-Type"] = plan.content_type
    if plan.id_kind != "missing":
        headers["webhook-id"] = msg_id if plan.id_kind == "ok" else plan.id_junk
    if plan.ts_kind != "missing":
        headers["webhook-timestamp"] = str(timestamp) if plan.ts_kind == "ok" else plan.ts_junk
    good = sign(SECRET, msg_id, timestamp, body)
    signatures = {
        "ok": good,
        "both": f"{sign(FOREIGN_SECRET, msg_id, timestamp, body)} {good}",
        "foreign": sign(FOREIGN_SECRET, msg_id, timestamp, body),
        "junk": plan.sig_junk,
        "altered_body": sign(SECRET, msg_id, timestamp, body + b" "),
        "v2": "v2," + good.partition(",")[2],
    }
    if plan.sig_kind != "missing":
        headers["webhook-signature"] = signatures[plan.sig_kind]
    authentic = (
        plan.id_kind == "ok"
        and plan.ts_kind == "ok"
        and abs(plan.ts_offset) <= 300
        and plan.sig_kind in ("ok", "both")
    )
    return msg_id, body, headers, authentic


def _is_event(body: bytes) -> bool:
    try:
        data = json.loads(body.decode("utf-8"))
    except ValueError:
        return False
    return (
        isinstance(data, dict)
        and isinstance(data.get("type"), str)
        and bool(data["type"])
        and isinstance(data.get("execution_id"), str)
        and bool(data["execution_id"])
        and isinstance(data.get("outputs", {}), dict)
    )


@pytest.fixture
async def fuzz_target(serve: Serve, db_url: str) -> tuple[Any, Receiver, Recorder]:
    recorder = Recorder()
    receiver = Receiver(
        SECRET, store=db_url, handlers=recorder.handlers, clock=lambda: NOW, queue_limit=10_000
    )
    client = await serve(receiver)
    return client, receiver, recorder


@FUZZ
@given(plan=plans)
async def test_fuzzed_deliveries(fuzz_target: tuple[Any, Receiver, Recorder], plan: Plan) -> None:
    client, receiver, recorder = fuzz_target
    execution_id = f"exec_{uuid.uuid4().hex}"
    msg_id, body, headers, authentic = _request(plan, execution_id)
    response = await client.post(PATH, data=body, headers=headers)
    json_type = plan.content_type.split(";")[0] == "application/json"
    if not json_type:
        expected = 415
    elif not authentic:
        expected = 401
    elif _is_event(body):
        expected = 202
    else:
        expected = 400
    assert response.status == expected, (plan, await response.text())
    if expected == 202:
        await wait_for(lambda: execution_id in recorder.ids())
    else:
        assert await receiver.store.state(msg_id) is None
        assert execution_id not in recorder.ids()


@FUZZ
@given(offset=st.integers(-400, 400) | st.sampled_from([-301, -300, 300, 301]))
async def test_timestamp_window_is_plus_minus_300(
    fuzz_target: tuple[Any, Receiver, Recorder], offset: int
) -> None:
    client, receiver, recorder = fuzz_target
    execution_id = f"exec_{uuid.uuid4().hex}"
    body = payload(execution_id)
    msg_id = f"msg_{uuid.uuid4().hex}"
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(NOW + offset),
        "webhook-signature": sign(SECRET, msg_id, NOW + offset, body),
    }
    response = await client.post(PATH, data=body, headers=headers)
    if abs(offset) <= 300:
        assert response.status == 202
        await wait_for(lambda: execution_id in recorder.ids())
    else:
        assert response.status == 401
        assert await receiver.store.state(msg_id) is None


@FUZZ
@given(signers=st.lists(st.sampled_from(["old", "new", "foreign"]), min_size=1, max_size=3))
async def test_rotation_accepts_old_and_new_secrets(serve: Serve, db_url: str, signers: list[str]) -> None:
    secrets = {"old": OLD_SECRET, "new": SECRET, "foreign": FOREIGN_SECRET}
    receiver = Receiver([OLD_SECRET, SECRET], store=db_url, clock=lambda: NOW)
    client = await serve(receiver)
    body = payload()
    msg_id = f"msg_{uuid.uuid4().hex}"
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(NOW),
        "webhook-signature": " ".join(sign(secrets[s], msg_id, NOW, body) for s in signers),
    }
    response = await client.post(PATH, data=body, headers=headers)
    assert response.status == (401 if signers == ["foreign"] * len(signers) else 202)
    await client.close()


def test_fixture_secrets_are_distinct_and_valid() -> None:
    keys = {base64.b64decode(s.removeprefix("whsec_")) for s in (SECRET, OLD_SECRET, FOREIGN_SECRET)}
    assert len(keys) == 3
