"""Request fields the real BudAI gateway (and the official `bud` SDK) sends, parsed strictly.

Pipelines: `tags` as a string map, `icon`, `is_active`, plus `user_id` / `system_owned`.
Executions (`/execute`, `/run`, retry): `context`, `initiator`, `user_id`, `callback_topics`,
`subscriber_ids`, `payload_type`, `notification_workflow_id` - stored on the execution and
echoed (docs/compatibility.md). Pages: the gateway's `page` / `per_page` / `page_size`.
"""

from __future__ import annotations

from typing import Any

from budai_server.limits import MAX_TAG_LENGTH, MAX_TAGS
from budai_server.routes.parse import MISSING, Fields, QueryFields

__all__ = [
    "ORIGIN_FIELDS",
    "PIPELINE_GATEWAY_FIELDS",
    "boolean",
    "page_window",
    "parse_origin",
    "string_map",
]

ORIGIN_FIELDS = frozenset(
    {
        "context",
        "initiator",
        "user_id",
        "callback_topics",
        "subscriber_ids",
        "payload_type",
        "notification_workflow_id",
    }
)
PIPELINE_GATEWAY_FIELDS = frozenset({"icon", "is_active", "user_id", "system_owned"})
MAX_TOPICS = 20
MAX_ID_LENGTH = 255
MAX_TAG_VALUE_LENGTH = 1000


def string_map(fields: Fields, name: str = "tags") -> Any:
    """A map of string to string (the gateway's pipeline tags); a list of strings maps each to "".

    None when null, MISSING when absent or faulty (the fault is recorded in `fields`).
    """
    if not fields.has(name):
        return MISSING
    value = fields.data[name]
    if value is None:
        return None
    if isinstance(value, list):
        wrong = [index for index, tag in enumerate(value) if not isinstance(tag, str)]
        for index in wrong:
            fields.fail(f"{name}[{index}]", "each tag of an array must be a string", "type")
        if wrong:
            return MISSING
        value = dict.fromkeys(value, "")
    if not isinstance(value, dict):
        fields.fail(name, "must be an object mapping tag names to strings", "type")
        return MISSING
    if len(value) > MAX_TAGS:
        fields.fail(name, f"at most {MAX_TAGS} tags are allowed", "too_many")
        return MISSING
    tags: dict[str, str] = {}
    for key, item in value.items():
        path = f"{name}.{key}"
        if not key.strip() or len(key) > MAX_TAG_LENGTH:
            fields.fail(path, f"a tag name is 1 to {MAX_TAG_LENGTH} characters, not blank", "invalid")
        elif not isinstance(item, str) or len(item) > MAX_TAG_VALUE_LENGTH:
            fields.fail(path, f"a tag value is a string of at most {MAX_TAG_VALUE_LENGTH} characters", "type")
        else:
            tags[key] = item
    return tags if len(tags) == len(value) else MISSING


def boolean(fields: Fields, name: str) -> Any:
    """A JSON boolean; MISSING when absent or faulty."""
    if not fields.has(name):
        return MISSING
    value = fields.data[name]
    if not isinstance(value, bool):
        fields.fail(name, "must be a boolean", "type")
        return MISSING
    return value


def _short(fields: Fields, name: str, max_length: int = MAX_ID_LENGTH) -> Any:
    return fields.string(name, nullable=True, max_length=max_length)


def _topics(fields: Fields, name: str = "callback_topics") -> Any:
    if not fields.has(name) or fields.data[name] is None:
        return MISSING
    value = fields.data[name]
    if not isinstance(value, list):
        fields.fail(name, "must be an array of strings", "type")
        return MISSING
    if len(value) > MAX_TOPICS:
        fields.fail(name, f"at most {MAX_TOPICS} topics are allowed", "too_many")
        return MISSING
    ok = True
    for index, topic in enumerate(value):
        if not isinstance(topic, str) or not topic.strip() or len(topic) > MAX_ID_LENGTH:
            fields.fail(
                f"{name}[{index}]", f"a topic is a non-empty string of at most {MAX_ID_LENGTH}", "type"
            )
            ok = False
    return list(dict.fromkeys(value)) if ok else MISSING


def parse_origin(fields: Fields) -> dict[str, Any]:
    """The gateway's execution request fields that were sent (null counts as not sent)."""
    values = {
        "context": fields.obj("context", nullable=True),
        "initiator": _short(fields, "initiator"),
        "user_id": _short(fields, "user_id"),
        "callback_topics": _topics(fields),
        "subscriber_ids": _short(fields, "subscriber_ids", 4096),
        "payload_type": _short(fields, "payload_type"),
        "notification_workflow_id": _short(fields, "notification_workflow_id"),
    }
    return {key: value for key, value in values.items() if value is not MISSING and value is not None}


def page_window(query: QueryFields, limit: int, offset: int, *, maximum: int) -> tuple[int, int]:
    """`limit, offset` from the gateway's `page` and `per_page` (or `page_size`); the official SDK
    pages this way. `limit` / `offset`, when sent, win; every parameter sent is checked."""
    raw = query.query
    per_page = query.integer("per_page", default=0, minimum=1, maximum=maximum)
    page_size = query.integer("page_size", default=0, minimum=1, maximum=maximum)
    page = query.integer("page", default=1, minimum=1, maximum=2**31)
    size = limit if raw.get("limit") else (per_page or page_size or limit)
    start = offset if raw.get("offset") else (page - 1) * size
    return size, start
