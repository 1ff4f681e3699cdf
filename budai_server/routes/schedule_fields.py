"""Reading a schedule request body in either wire shape into one `ScheduleInput`.

The timing may come as the pipeline service's ``schedule: {type, expression, timezone, run_at}``
object or as top-level ``cron`` / ``expression`` / ``type`` / ``timezone`` / ``run_at`` (the
official SDK sends ``cron`` and ``timezone``). Faults collect in the `Fields` so one 422 names them all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from budai_async.pipeline.definition import MAX_TIMEOUT_SECONDS
from budai_server.outbound.policy import OutboundPolicy
from budai_server.routes.executions import PRIORITIES
from budai_server.routes.parse import MAX_NAME_LENGTH, MISSING, Fields
from budai_server.routes.trigger_wiring import pipeline_ref
from budai_server.triggers.catchup import CATCHUP_POLICIES, OVERLAP_POLICIES
from budai_server.triggers.timing import SCHEDULE_TYPES

__all__ = ["SPEC_FIELDS", "ScheduleInput", "parse_schedule_input", "read_bool", "read_time"]

_TIMING = frozenset({"cron", "expression", "type", "timezone", "run_at"})
SPEC_FIELDS = _TIMING | {
    "name",
    "description",
    "schedule",
    "params",
    "enabled",
    "priority",
    "tags",
    "callbacks",
    "timeout_seconds",
    "catchup",
    "catchup_window_seconds",
    "overlap",
}
MAX_CATCHUP_WINDOW_SECONDS = 10 * 365 * 86400.0


@attrs.frozen(kw_only=True)
class ScheduleInput:
    """What a create or update body said; None means "not sent"."""

    pipeline_id: str | None = None
    name: str | None = None
    description: str | None = None
    type: str | None = None
    expression: str | None = None
    timezone: str | None = None
    run_at: datetime | None = None
    spec_prefix: str = ""
    params: dict[str, Any] | None = None
    enabled: bool | None = None
    priority: str | None = None
    tags: list[str] | None = None
    callbacks: dict[str, str] | None = None
    timeout_seconds: float | None = None
    timeout_sent: bool = False
    catchup: str | None = None
    catchup_window_seconds: float | None = None
    overlap: str | None = None


def _given(value: Any) -> Any:
    return None if value is MISSING else value


def read_bool(fields: Fields, name: str) -> bool | None:
    value = fields._typed(name, (bool,), "a boolean", False, False)
    return None if value is MISSING else bool(value)


def read_time(fields: Fields, name: str) -> datetime | None:
    """An ISO-8601 datetime string (naive is returned naive: the schedule's zone applies)."""
    value = fields.string(name, nullable=True, max_length=64)
    if not isinstance(value, str):
        return None
    try:
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        return datetime.fromisoformat(text)
    except ValueError:
        fields.fail(name, f"must be an ISO-8601 datetime, got {value!r}", "type")
        return None


def _timing(fields: Fields) -> tuple[dict[str, Any], str]:
    """The timing fields, from the `schedule` object when sent, else from the top level."""
    nested = fields.obj("schedule", nullable=False)
    source, prefix = fields, ""
    if isinstance(nested, dict):
        source = Fields(nested, allowed=_TIMING, prefix=fields.path("schedule"))
        prefix = fields.path("schedule")
    expression = _given(source.string("expression", max_length=200))
    cron = _given(source.string("cron", max_length=200))
    if expression is not None and cron is not None and expression != cron:
        source.fail("cron", "cron and expression differ; send one of them", "conflict")
    found = {
        "type": _given(source.choice("type", SCHEDULE_TYPES, str)),
        "expression": expression if expression is not None else cron,
        "timezone": _given(source.string("timezone", max_length=64)),
        "run_at": read_time(source, "run_at"),
    }
    if source is not fields:
        fields.issues.extend(source.issues)
        for name in _TIMING:
            if fields.has(name):
                fields.fail(name, "send the timing either in `schedule` or at the top level", "conflict")
    return found, prefix


def parse_schedule_input(
    fields: Fields, *, creating: bool, policy: OutboundPolicy | None = None
) -> ScheduleInput:
    """Read every schedule field; `creating` makes pipeline id, name and the timing required.

    Callback URLs that `policy` refuses without DNS are faults (see `Fields.callbacks`)."""
    pipeline_id = None
    if creating:
        pipeline_id = _given(pipeline_ref(fields))
    name = _given(fields.string("name", required=creating, max_length=MAX_NAME_LENGTH))
    timing, prefix = _timing(fields)
    if creating and timing["expression"] is None and timing["run_at"] is None:
        fields.fail(
            prefix + ".expression" if prefix else "cron",
            "a cron or @every expression (or run_at) is required",
            "required",
        )
    if timing["type"] is None and timing["expression"] is None and timing["run_at"] is not None:
        timing["type"] = "one_time"
    timeout = fields.number("timeout_seconds", exclusive_minimum=0, maximum=MAX_TIMEOUT_SECONDS)
    window = fields.number("catchup_window_seconds", nullable=False, exclusive_minimum=0)
    if isinstance(window, float) and window > MAX_CATCHUP_WINDOW_SECONDS:
        fields.fail("catchup_window_seconds", f"must be at most {MAX_CATCHUP_WINDOW_SECONDS:g}", "range")
        window = MISSING
    return ScheduleInput(
        pipeline_id=pipeline_id,
        name=name,
        description=_given(fields.string("description", nullable=True, non_empty=False, max_length=2000)),
        type=timing["type"],
        expression=timing["expression"],
        timezone=timing["timezone"],
        run_at=timing["run_at"],
        spec_prefix=prefix,
        params=_given(fields.obj("params", nullable=True)),
        enabled=read_bool(fields, "enabled"),
        priority=_given(fields.choice("priority", PRIORITIES, str)),
        tags=_given(fields.tags()),
        callbacks=_given(fields.callbacks(policy=policy)),
        timeout_seconds=_given(timeout),
        timeout_sent=fields.has("timeout_seconds") and timeout is not MISSING,
        catchup=_given(fields.choice("catchup", CATCHUP_POLICIES, str)),
        catchup_window_seconds=_given(window),
        overlap=_given(fields.choice("overlap", OVERLAP_POLICIES, str)),
    )
