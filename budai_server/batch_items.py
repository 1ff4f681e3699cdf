"""Parse the body of `POST /budpipeline/{id}/execute/batch` into accepted items and per-item faults.

Pure: JSON data in, `ItemSpec`s and `ItemFault`s out, no I/O. A fault in one item never fails its
neighbours; only an unusable envelope (not an object, `items` missing or over the limit) fails the
whole request, and then `BodyFault` names the field. Every field path is relative to the request
body, e.g. ``items[3].priority``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from budai_async.pipeline.definition import MAX_TIMEOUT_SECONDS
from budai_server.limits import MAX_TAG_LENGTH, MAX_TAGS
from budai_server.outbound.policy import OutboundPolicy

__all__ = [
    "ITEM_FIELDS",
    "MAX_BATCH_ITEMS",
    "MAX_KEY_LENGTH",
    "BatchRequest",
    "BodyFault",
    "ItemFault",
    "ItemSpec",
    "parse_batch",
]

MAX_BATCH_ITEMS = 1000
MAX_KEY_LENGTH = 255
PRIORITIES = ("high", "normal", "low")
CALLBACK_KEYS = ("on_complete", "on_failure")
DEFAULT_FIELDS = frozenset({"tags", "priority", "callbacks", "timeout_seconds"})
ITEM_FIELDS = DEFAULT_FIELDS | {"params", "idempotency_key"}
BODY_FIELDS = frozenset({"items", "defaults"})


@attrs.frozen(kw_only=True)
class ItemSpec:
    """One valid item, defaults applied; `fingerprint` identifies its content for idempotent replay."""

    index: int
    params: dict[str, Any]
    tags: list[str]
    priority: str
    callbacks: dict[str, str]
    timeout_seconds: float | None
    idempotency_key: str | None

    @property
    def fingerprint(self) -> str:
        payload = {
            "params": self.params,
            "tags": self.tags,
            "priority": self.priority,
            "callbacks": self.callbacks,
            "timeout_seconds": self.timeout_seconds,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@attrs.frozen(kw_only=True)
class ItemFault:
    """Why item `index` was refused; `status` is the HTTP status it would have had alone."""

    index: int
    code: str
    message: str
    field: str
    status: int = 422

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status,
            "error": {
                "code": self.code,
                "message": self.message,
                "details": [{"path": self.field, "message": self.message, "code": self.code}],
                "field": self.field,
            },
        }


@attrs.frozen(kw_only=True)
class BodyFault:
    """The whole request is refused (413 too many items, 422 malformed envelope)."""

    status: int
    code: str
    message: str
    field: str


@attrs.frozen(kw_only=True)
class BatchRequest:
    """A parsed batch: items in input order, each either accepted or refused."""

    items: list[ItemSpec | ItemFault]

    @property
    def accepted(self) -> list[ItemSpec]:
        return [item for item in self.items if isinstance(item, ItemSpec)]


class _Fault(Exception):
    def __init__(self, field: str, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


def parse_batch(
    body: Any, *, max_items: int = MAX_BATCH_ITEMS, policy: OutboundPolicy | None = None
) -> BatchRequest | BodyFault:
    """Validate a batch body; item faults stay per item, envelope faults fail the request.

    With `policy`, a callback URL it refuses without DNS is a fault (code ``outbound_refused``)."""
    if not isinstance(body, Mapping):
        return BodyFault(status=422, code="invalid_body", message="body must be a JSON object", field="$")
    unknown = sorted(set(body) - BODY_FIELDS)
    if unknown:
        return BodyFault(
            status=422, code="unknown_field", message=f"unknown field {unknown[0]!r}", field=unknown[0]
        )
    items = body.get("items")
    if not isinstance(items, list):
        return BodyFault(status=422, code="invalid_items", message="items must be a list", field="items")
    if not items:
        return BodyFault(status=422, code="empty_batch", message="items must not be empty", field="items")
    if len(items) > max_items:
        return BodyFault(
            status=413,
            code="too_many_items",
            message=f"a batch holds at most {max_items} items, got {len(items)}",
            field="items",
        )
    try:
        defaults = _parse_defaults(body.get("defaults"))
        _check_callbacks("defaults.callbacks", defaults.get("callbacks"), policy)
    except _Fault as fault:
        return BodyFault(status=422, code=fault.code, message=fault.message, field=fault.field)
    return BatchRequest(
        items=[_parse_item(index, item, defaults, policy) for index, item in enumerate(items)]
    )


def _check_callbacks(field: str, callbacks: Mapping[str, str] | None, policy: OutboundPolicy | None) -> None:
    """Raise a fault for the first callback URL `policy` refuses without DNS."""
    if policy is None or not callbacks:
        return
    for key, url in callbacks.items():
        refused = policy.refusal_without_dns(url)
        if refused is not None:
            raise _Fault(f"{field}.{key}", str(refused), "outbound_refused")


def _parse_defaults(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Fault("defaults", "defaults must be an object")
    unknown = sorted(set(value) - DEFAULT_FIELDS)
    if unknown:
        raise _Fault(f"defaults.{unknown[0]}", f"unknown field {unknown[0]!r}", "unknown_field")
    return {
        key: _FIELD_PARSERS[key](f"defaults.{key}", item) for key, item in value.items() if item is not None
    }


def _parse_item(
    index: int, value: Any, defaults: Mapping[str, Any], policy: OutboundPolicy | None = None
) -> ItemSpec | ItemFault:
    where = f"items[{index}]"
    try:
        if not isinstance(value, Mapping):
            raise _Fault(where, "item must be an object")
        unknown = sorted(set(value) - ITEM_FIELDS)
        if unknown:
            raise _Fault(f"{where}.{unknown[0]}", f"unknown field {unknown[0]!r}", "unknown_field")
        fields = dict(defaults)
        for key, item in value.items():
            if item is not None:
                fields[key] = _FIELD_PARSERS[key](f"{where}.{key}", item)
        if value.get("callbacks") is not None:
            _check_callbacks(f"{where}.callbacks", fields["callbacks"], policy)
    except _Fault as fault:
        return ItemFault(index=index, code=fault.code, message=fault.message, field=fault.field)
    return ItemSpec(
        index=index,
        params=fields.get("params", {}),
        tags=fields.get("tags", []),
        priority=fields.get("priority", "normal"),
        callbacks=fields.get("callbacks", {}),
        timeout_seconds=fields.get("timeout_seconds"),
        idempotency_key=fields.get("idempotency_key"),
    )


def _params(field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _Fault(field, "params must be an object")
    return dict(value)


def _tags(field: str, value: Any) -> list[str]:
    """The single execute route's tag rules (routes/parse.py), so a batch item can't store a tag
    that the `tags=` filter could never match (a comma) or that execute would refuse."""
    if not isinstance(value, list):
        raise _Fault(field, "tags must be a list of strings")
    if len(value) > MAX_TAGS:
        raise _Fault(field, f"at most {MAX_TAGS} tags are allowed", "too_many")
    for position, tag in enumerate(value):
        if not isinstance(tag, str) or not tag.strip() or len(tag) > MAX_TAG_LENGTH or "," in tag:
            raise _Fault(
                f"{field}[{position}]",
                f"a tag must be a non-blank string of at most {MAX_TAG_LENGTH} characters without a comma",
            )
    return list(dict.fromkeys(value))


def _priority(field: str, value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in PRIORITIES:
        raise _Fault(field, f"priority must be one of {', '.join(PRIORITIES)}")
    return value.lower()


def _callbacks(field: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _Fault(field, "callbacks must be an object")
    out: dict[str, str] = {}
    for key, url in value.items():
        if key not in CALLBACK_KEYS:
            raise _Fault(f"{field}.{key}", f"unknown callback {key!r}", "unknown_field")
        if url is None:
            continue
        try:
            parts = urlsplit(url) if isinstance(url, str) else None
        except ValueError:  # a malformed IPv6 host, e.g. "http://["
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise _Fault(f"{field}.{key}", "callback must be an http(s) URL")
        out[key] = url
    return out


def _timeout(field: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
        or value > MAX_TIMEOUT_SECONDS
    ):
        raise _Fault(field, f"timeout_seconds must be a positive number of at most {MAX_TIMEOUT_SECONDS:g}")
    return float(value)


def _key(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_KEY_LENGTH:
        raise _Fault(
            field, f"idempotency_key must be a non-empty string of at most {MAX_KEY_LENGTH} characters"
        )
    return value


_FIELD_PARSERS = {
    "params": _params,
    "tags": _tags,
    "priority": _priority,
    "callbacks": _callbacks,
    "timeout_seconds": _timeout,
    "idempotency_key": _key,
}
