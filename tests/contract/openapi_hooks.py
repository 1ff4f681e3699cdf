"""Schemathesis hooks for the OpenAPI contract run (loaded through ``SCHEMATHESIS_HOOKS``).

A JSON schema cannot say everything the server checks. These hooks drop exactly the failures that
come from such checks, each recognised by the error code the server answers with, so every other
"valid request refused" or "invalid request accepted" still fails the run:

* a definition is checked against the action catalogue (422 `invalid_definition`), execution
  params against the definition's declared parameters (422 naming `params...`), a schedule's cron
  expression and time zone against croniter and the zone database (422 `invalid_schedule`), a
  trigger's params against its pipeline when it starts (422 `trigger_failed`), a cursor must be
  one the server made and cannot be combined with `offset`, a `since` duration must fit a date,
  and the watch route's `since` needs `pipeline_id` or `tag` beside it;
* an `Idempotency-Key` reused with another body is refused (422 `idempotency_key_reused`), and
  generated keys repeat;
* a websocket route called without the upgrade answers 400 `websocket_required`;
* a long-poll wait over the server's configured maximum and a callback URL its outbound policy
  refuses are 422s naming the limit (detail codes `over_limit`, `outbound_refused`);
* a PATCH sending only fields that change nothing is 422 with detail code `empty`;
* a batch answers a faulty item alone: the request succeeds with the item's error in its result.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis

SEMANTIC_CODES = frozenset(
    {"invalid_definition", "idempotency_key_reused", "invalid_schedule", "trigger_failed"}
)
SEMANTIC_FIELDS = frozenset({"cursor", "offset", "since"})
# Refusals that depend on the server's configuration or on field meaning: a wait over
# `--long-poll-max-seconds`, a callback URL the outbound policy refuses, and a PATCH whose only
# fields are the gateway's informational ones (accepted, ignored), which changes nothing (`empty`):
# "at least one changeable field" is not something the schema can state.
SEMANTIC_DETAIL_CODES = frozenset({"over_limit", "outbound_refused", "empty"})
POSITIVE_REJECTED = "ST202"
NEGATIVE_ACCEPTED = "ST201"


def _body(response: Any) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def _semantic_refusal(status: int, body: Any) -> bool:
    """True when a schema-valid request was refused for a reason the schema cannot state."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return False
    code = error.get("code")
    if status == 400:
        return code == "websocket_required"
    if status != 422:
        return False
    if code in SEMANTIC_CODES:
        return True
    details = error.get("details")
    if code != "validation_error" or not isinstance(details, list) or not details:
        return False
    entries = [detail for detail in details if isinstance(detail, dict)]
    return all(
        str(entry.get("path", "")).startswith("params")
        or entry.get("path") in SEMANTIC_FIELDS
        or entry.get("code") in SEMANTIC_DETAIL_CODES
        for entry in entries
    )


def _item_refused_alone(operation_id: str | None, status: int, body: Any) -> bool:
    return (
        operation_id == "executePipelineBatch"
        and status == 200
        and isinstance(body, dict)
        and isinstance(body.get("failed"), int)
        and body["failed"] > 0
    )


def keep_failure(code: str, operation_id: str | None, status: int, body: Any) -> bool:
    """Whether a schemathesis failure is a real contract breach (pure, so it is tested by table)."""
    if code == POSITIVE_REJECTED and _semantic_refusal(status, body):
        return False
    return not (code == NEGATIVE_ACCEPTED and _item_refused_alone(operation_id, status, body))


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    operation_id = case.operation.definition.raw.get("operationId")
    return keep_failure(str(failure.code), operation_id, response.status_code, _body(response))
