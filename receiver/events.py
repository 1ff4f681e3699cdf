"""Turn a verified callback body into the typed `CallbackEvent` handlers receive.

Parsing happens before the acknowledgement, so a body no handler could use is refused with 400
(naming the field) instead of being stored and failing later. Unknown keys are ignored and unknown
event types are accepted, so a newer server's callbacks still arrive.
"""

from __future__ import annotations

from typing import Any

import cattrs

from budai_async._convert import converter
from budai_async._json import loads as json_loads
from budai_async.models import CallbackEvent

__all__ = ["CallbackEvent", "MalformedEvent", "parse_event"]

_STATUS_BY_TYPE = {"execution.completed": "completed", "execution.failed": "failed"}


class MalformedEvent(ValueError):
    """The body is not a callback event; `field` names the offending key when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def parse_event(body: bytes | str) -> CallbackEvent:
    """Parse a UTF-8 JSON body (bytes, or text already decoded) into a `CallbackEvent`.

    Raises `MalformedEvent` with the reason.
    """
    try:
        data: Any = json_loads(body)  # msgspec, the standard library's values (budai_async._json)
    except (ValueError, RecursionError):
        raise MalformedEvent("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise MalformedEvent("body must be a JSON object")
    for key in ("type", "execution_id"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise MalformedEvent(f"`{key}` must be a non-empty string", field=key)
    if data.get("tags") is not None and not isinstance(data["tags"], list):
        raise MalformedEvent("`tags` must be a list of strings", field="tags")
    if data.get("status") is None and data["type"] in _STATUS_BY_TYPE:
        data["status"] = _STATUS_BY_TYPE[data["type"]]
    try:
        return converter.structure(data, CallbackEvent)
    except cattrs.BaseValidationError as exc:
        detail = "; ".join(cattrs.transform_error(exc, path="$"))
        raise MalformedEvent(f"invalid event: {detail}") from None
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise MalformedEvent(f"invalid event: {exc}") from None
