"""Parsing batch bodies: per-item faults from a table, envelope faults, defaults and fingerprints."""

from __future__ import annotations

from typing import Any

import pytest

from budai_async.pipeline.definition import MAX_TIMEOUT_SECONDS
from budai_server.batch_items import BatchRequest, BodyFault, ItemFault, ItemSpec, parse_batch


def _one(item: Any, defaults: Any = None) -> ItemSpec | ItemFault:
    body: dict[str, Any] = {"items": [item]}
    if defaults is not None:
        body["defaults"] = defaults
    parsed = parse_batch(body)
    assert isinstance(parsed, BatchRequest)
    return parsed.items[0]


@pytest.mark.parametrize(
    ("item", "field", "code"),
    [
        ("text", "items[0]", "invalid"),
        ({"params": [1]}, "items[0].params", "invalid"),
        ({"tags": "a"}, "items[0].tags", "invalid"),
        ({"tags": ["ok", 3]}, "items[0].tags[1]", "invalid"),
        ({"tags": [""]}, "items[0].tags[0]", "invalid"),
        ({"tags": ["   "]}, "items[0].tags[0]", "invalid"),
        ({"timeout_seconds": MAX_TIMEOUT_SECONDS + 1}, "items[0].timeout_seconds", "invalid"),
        ({"tags": ["ok", "a,b"]}, "items[0].tags[1]", "invalid"),  # `tags=` filters split on commas
        ({"tags": ["x" * 101]}, "items[0].tags[0]", "invalid"),  # execute's MAX_TAG_LENGTH
        ({"tags": [f"t{i}" for i in range(51)]}, "items[0].tags", "too_many"),  # execute's MAX_TAGS
        ({"priority": "urgent"}, "items[0].priority", "invalid"),
        ({"priority": 1}, "items[0].priority", "invalid"),
        ({"callbacks": {"on_complete": "ftp://x"}}, "items[0].callbacks.on_complete", "invalid"),
        ({"callbacks": {"on_complete": "http://"}}, "items[0].callbacks.on_complete", "invalid"),
        ({"callbacks": {"on_start": "http://x"}}, "items[0].callbacks.on_start", "unknown_field"),
        ({"callbacks": []}, "items[0].callbacks", "invalid"),
        ({"timeout_seconds": 0}, "items[0].timeout_seconds", "invalid"),
        ({"timeout_seconds": True}, "items[0].timeout_seconds", "invalid"),
        ({"timeout_seconds": "5"}, "items[0].timeout_seconds", "invalid"),
        ({"idempotency_key": ""}, "items[0].idempotency_key", "invalid"),
        ({"idempotency_key": "k" * 256}, "items[0].idempotency_key", "invalid"),
        ({"idempotency_key": 5}, "items[0].idempotency_key", "invalid"),
        ({"parms": {}}, "items[0].parms", "unknown_field"),
    ],
)
def test_item_faults_name_the_field(item: Any, field: str, code: str) -> None:
    fault = _one(item)
    assert isinstance(fault, ItemFault)
    assert (fault.field, fault.code, fault.status) == (field, code, 422)
    body = fault.to_json()
    assert body["index"] == 0 and body["error"]["field"] == field
    assert body["error"]["details"][0]["path"] == field


def test_valid_item_with_defaults_applied() -> None:
    spec = _one(
        {"params": {"n": 1}, "priority": "HIGH", "tags": ["a", "a", "b"], "idempotency_key": "k-1"},
        defaults={
            "priority": "low",
            "tags": ["d"],
            "timeout_seconds": 30,
            "callbacks": {"on_failure": "https://h/f"},
        },
    )
    assert spec == ItemSpec(
        index=0,
        params={"n": 1},
        tags=["a", "b"],
        priority="high",
        callbacks={"on_failure": "https://h/f"},
        timeout_seconds=30.0,
        idempotency_key="k-1",
    )


def test_bare_item_takes_every_default() -> None:
    spec = _one({})
    assert isinstance(spec, ItemSpec)
    assert (spec.params, spec.tags, spec.priority, spec.callbacks, spec.timeout_seconds) == (
        {},
        [],
        "normal",
        {},
        None,
    )
    assert spec.idempotency_key is None


def test_bad_item_fails_alone() -> None:
    parsed = parse_batch({"items": [{"params": {}}, {"priority": "x"}, {"params": {"a": 1}}]})
    assert isinstance(parsed, BatchRequest)
    assert [type(item).__name__ for item in parsed.items] == ["ItemSpec", "ItemFault", "ItemSpec"]
    assert [item.index for item in parsed.accepted] == [0, 2]


@pytest.mark.parametrize(
    ("body", "status", "field", "code"),
    [
        ([], 422, "$", "invalid_body"),
        ({}, 422, "items", "invalid_items"),
        ({"items": {}}, 422, "items", "invalid_items"),
        ({"items": []}, 422, "items", "empty_batch"),
        ({"items": [{}] * 1001}, 413, "items", "too_many_items"),
        ({"items": [{}], "extra": 1}, 422, "extra", "unknown_field"),
        ({"items": [{}], "defaults": []}, 422, "defaults", "invalid"),
        ({"items": [{}], "defaults": {"priority": "x"}}, 422, "defaults.priority", "invalid"),
        ({"items": [{}], "defaults": {"params": {}}}, 422, "defaults.params", "unknown_field"),
    ],
)
def test_envelope_faults_fail_the_request(body: Any, status: int, field: str, code: str) -> None:
    fault = parse_batch(body)
    assert isinstance(fault, BodyFault)
    assert (fault.status, fault.field, fault.code) == (status, field, code)


def test_limit_is_inclusive() -> None:
    parsed = parse_batch({"items": [{}] * 1000})
    assert isinstance(parsed, BatchRequest) and len(parsed.accepted) == 1000


def test_fingerprint_follows_content_not_key() -> None:
    a = _one({"params": {"x": 1, "y": 2}, "idempotency_key": "a"})
    b = _one({"params": {"y": 2, "x": 1}, "idempotency_key": "b"})
    c = _one({"params": {"x": 2}, "idempotency_key": "a"})
    assert isinstance(a, ItemSpec) and isinstance(b, ItemSpec) and isinstance(c, ItemSpec)
    assert a.fingerprint == b.fingerprint != c.fingerprint
