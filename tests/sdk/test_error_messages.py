"""`str(error)` says why: a 422's message carries each field's reason, from our server and the gateway."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sdk_support import PipelineFactory, log_step

from budai_async import AsyncBudClient
from budai_async._responses import error_from_response
from budai_async.errors import UnprocessableEntityError

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def _details(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"path": path, "message": message, "code": "x"} for path, message in pairs]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "error": {
                    "message": "invalid request: priority",
                    "details": _details(("priority", "must be one of: a, b")),
                }
            },
            "invalid request: priority: must be one of: a, b",
        ),
        (
            {
                "error": {
                    "message": "invalid request: tags[0], timeout_seconds",
                    "details": _details(("tags[0]", "must be a string"), ("timeout_seconds", "must be > 0")),
                }
            },
            "invalid request: tags[0]: must be a string; timeout_seconds: must be > 0",
        ),
        (
            {
                "error": {
                    "message": "invalid pipeline definition in 'definition': 1 problem(s)",
                    "details": _details(("definition.steps[0].action", "unknown action 'x'")),
                }
            },
            "invalid pipeline definition in 'definition': 1 problem(s): "
            "definition.steps[0].action: unknown action 'x'",
        ),
        (
            {"error": {"message": "nothing to update", "details": _details(("", "send at least one field"))}},
            "nothing to update: send at least one field",
        ),
        (
            {"detail": [{"loc": ["body", "priority"], "msg": "Input should be 'high'", "type": "enum"}]},
            "HTTP 422: priority: Input should be 'high'",
        ),
        ({"error": {"message": "invalid", "details": {"id": "x"}}}, "invalid"),  # not a field list
        (
            {"error": {"message": "bad", "details": _details(*[(f"f{i}", "no") for i in range(12)])}},
            "bad: " + "; ".join(f"f{i}: no" for i in range(10)) + "; and 2 more",
        ),
    ],
)
def test_a_422_message_lists_each_field_and_its_reason(body: dict[str, Any], expected: str) -> None:
    error = error_from_response(422, {}, json.dumps(body).encode(), now=NOW)
    assert str(error) == expected


async def test_the_server_s_422_reads_as_why(
    bud_client: AsyncBudClient, make_pipeline: PipelineFactory
) -> None:
    pipeline = await make_pipeline(log_step("a"))
    with pytest.raises(UnprocessableEntityError) as caught:
        await bud_client.executions.create(pipeline.id, priority="urgent")
    text = str(caught.value)
    assert text.startswith("invalid request: priority: must be one of: high, normal, low")
    with pytest.raises(UnprocessableEntityError) as bad_definition:
        await bud_client.pipelines.create(
            name="bad", definition={"steps": [{"id": "a", "action": "nope", "params": {}}]}
        )
    assert "definition.steps[0].action: unknown action 'nope'" in str(bad_definition.value)
