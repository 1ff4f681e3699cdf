"""The one retry rule: params sent are merged over the original's; a key sent as null is removed."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import Client, create_pipeline, execute, json_of, step, steps_of, wait_done

from budai_server.retry_params import merge_retry_params

ORIGINAL = {"cluster_id": "cluster_prod", "replicas": 3, "dry_run": True}


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (None, ORIGINAL),
        ({}, ORIGINAL),
        ({"cluster_id": "cluster_backup"}, {**ORIGINAL, "cluster_id": "cluster_backup"}),
        ({"region": "eu"}, {**ORIGINAL, "region": "eu"}),
        ({"dry_run": None}, {"cluster_id": "cluster_prod", "replicas": 3}),
        ({"missing": None}, ORIGINAL),
        ({"replicas": 0, "dry_run": False}, {**ORIGINAL, "replicas": 0, "dry_run": False}),
        ({"replicas": {"min": 1}}, {**ORIGINAL, "replicas": {"min": 1}}),  # values replace, never deep-merge
    ],
)
def test_merge_retry_params(sent: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    assert merge_retry_params(ORIGINAL, sent) == expected
    assert ORIGINAL == {"cluster_id": "cluster_prod", "replicas": 3, "dry_run": True}  # not mutated


async def test_a_null_param_is_removed_and_its_default_applies_again(api: Client) -> None:
    definition = {
        "parameters": {"cluster_id": {"type": "string"}, "note": {"type": "string", "default": "none"}},
        "steps": [step("say", "log", message="{{ params.cluster_id }} / {{ params.note }}")],
    }
    pipeline = await create_pipeline(api, definition)
    first = await wait_done(
        api, (await execute(api, pipeline["id"], params={"cluster_id": "cluster_prod", "note": "hi"}))["id"]
    )
    assert steps_of(first)["say"]["output"]["message"] == "cluster_prod / hi"
    retried = await json_of(
        api,
        "POST",
        f"/budpipeline/executions/{first['id']}/retry",
        json={"params": {"cluster_id": "cluster_backup", "note": None}},
        expect=201,
    )
    assert retried["params"] == {"cluster_id": "cluster_backup", "note": "none"}  # default filled in again
    done = await wait_done(api, retried["id"])
    assert steps_of(done)["say"]["output"]["message"] == "cluster_backup / none"
