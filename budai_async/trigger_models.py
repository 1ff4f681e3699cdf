"""Wire models of schedules, webhook triggers and event triggers (``client.schedules``,
``client.webhooks``, ``client.event_triggers``).

Frozen, keyword-only attrs classes read with the shared converter (unknown keys ignored), so they
parse our server's answers and the official SDK's shapes alike (`Schedule` reads ``cron`` or the
pipeline service's ``schedule`` object; ``workflow_id`` is read as ``pipeline_id``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from budai_async.models import _OpenStrEnum

__all__ = [
    "EventFiring",
    "EventTrigger",
    "EventType",
    "Schedule",
    "ScheduleRun",
    "ScheduleStatus",
    "ScheduleTiming",
    "WebhookSecret",
    "WebhookTrigger",
    "WebhookTriggerResult",
    "normalize_schedule",
]


class ScheduleStatus(_OpenStrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DISABLED = "disabled"


class EventType(_OpenStrEnum):
    """The events an event trigger can wait for: the terminal statuses of an execution."""

    EXECUTION_COMPLETED = "execution.completed"
    EXECUTION_FAILED = "execution.failed"
    EXECUTION_CANCELLED = "execution.cancelled"
    EXECUTION_TIMEOUT = "execution.timeout"


@attrs.frozen(kw_only=True)
class ScheduleTiming:
    """When a schedule fires: ``cron``, ``interval`` (``@every 1h30m``) or ``one_time`` (``run_at``)."""

    type: str = "cron"
    expression: str = ""
    timezone: str = "UTC"
    run_at: datetime | None = None


@attrs.frozen(kw_only=True)
class Schedule:
    """A stored schedule; `next_run_at` is None unless it is active and has a run ahead."""

    id: str
    pipeline_id: str
    name: str
    description: str = ""
    cron: str = ""
    timezone: str = "UTC"
    schedule: ScheduleTiming = attrs.field(factory=ScheduleTiming)
    status: ScheduleStatus = ScheduleStatus.ACTIVE
    enabled: bool = True
    params: dict[str, Any] = attrs.field(factory=dict)
    priority: str = "normal"
    tags: list[str] = attrs.field(factory=list)
    callbacks: dict[str, str] = attrs.field(factory=dict)
    timeout_seconds: float | None = None
    catchup: str = "latest"
    catchup_window_seconds: float | None = None
    overlap: str = "skip"
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    last_execution_id: str | None = None
    run_count: int = 0
    skipped_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen(kw_only=True)
class ScheduleRun:
    """One decided run time: `fired` (with its execution), `skipped` or `failed` (with the reason)."""

    run_at: datetime
    kind: str
    status: str
    reason: str | None = None
    execution_id: str | None = None
    recorded_at: datetime | None = None


@attrs.frozen(kw_only=True)
class WebhookTrigger:
    """An inbound webhook trigger; `url` is what the sender posts to. The secret is never listed."""

    id: str
    pipeline_id: str
    name: str
    description: str = ""
    url: str = ""
    is_active: bool = True
    secret_hash: str | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    params: dict[str, Any] = attrs.field(factory=dict)
    priority: str = "normal"
    tags: list[str] = attrs.field(factory=list)
    last_triggered_at: datetime | None = None
    trigger_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen(kw_only=True)
class WebhookSecret:
    """The answer to create and rotate-secret: the secret, shown this once, and where to post."""

    webhook_id: str
    secret: str = attrs.field(repr=False)
    url: str = ""


@attrs.frozen(kw_only=True)
class WebhookTriggerResult:
    """The execution a trigger started; `duplicate` when the message was a repeat."""

    execution_id: str
    webhook_id: str
    triggered_at: datetime | None = None
    message_id: str | None = None
    duplicate: bool = False


@attrs.frozen(kw_only=True)
class EventTrigger:
    """Starts `pipeline_id` when an execution ends with `event_type` and matches `filter`."""

    id: str
    pipeline_id: str
    name: str
    event_type: EventType
    description: str = ""
    filter: dict[str, Any] = attrs.field(factory=dict)
    params: dict[str, Any] = attrs.field(factory=dict)
    priority: str = "normal"
    tags: list[str] = attrs.field(factory=list)
    is_active: bool = True
    max_chain_depth: int = 5
    allow_cycles: bool = False
    fire_count: int = 0
    last_fired_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen(kw_only=True)
class EventFiring:
    """What one trigger did for one ended execution (refusals by the loop guard included)."""

    source_execution_id: str
    status: str
    reason: str | None = None
    execution_id: str | None = None
    recorded_at: datetime | None = None


def normalize_schedule(data: Any) -> Any:
    """Fill our fields from the pipeline service's names (``workflow_id``, ``schedule``)."""
    if not isinstance(data, dict):
        return data
    found = dict(data)
    if "pipeline_id" not in found and "workflow_id" in found:
        found["pipeline_id"] = found["workflow_id"]
    timing = found.get("schedule")
    if isinstance(timing, dict):
        found.setdefault("cron", timing.get("expression") or "")
        found.setdefault("timezone", timing.get("timezone") or "UTC")
    elif "cron" in found:
        kind = "interval" if str(found["cron"]).startswith("@every") else "cron"
        found["schedule"] = {
            "type": kind,
            "expression": found["cron"],
            "timezone": found.get("timezone", "UTC"),
        }
    if "enabled" not in found and "status" in found:
        found["enabled"] = str(found["status"]).lower() == "active"
    return found
