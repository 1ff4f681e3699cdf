"""The document's trigger routes: schedules, webhook triggers (management and the public signed
trigger) and event triggers."""

from __future__ import annotations

from typing import Any

from budai_server.openapi.operations import json_answer, operation, query
from budai_server.openapi.schema import Schema, ref
from budai_server.routes.schedules import MAX_NEXT_RUNS, STATUSES
from budai_server.routes.trigger_wiring import MAX_PER_PAGE
from budai_server.triggers.events import EVENT_TYPES

__all__ = ["trigger_paths"]

_STRING = {"type": "string"}


def _path_id(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


def _paging() -> tuple[Schema, ...]:
    size = {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}
    return (
        query("pipeline_id", _STRING, "only this pipeline's"),
        query("workflow_id", _STRING, "the pipeline service's name for `pipeline_id`"),
        query("limit", size, "page size (default `per_page`, 20)"),
        query("offset", {"type": "integer", "minimum": 0, "maximum": 10_000_000}, "rows to skip"),
        query(
            "page", {"type": "integer", "minimum": 1, "maximum": 1_000_000}, "1-based page (with `per_page`)"
        ),
        query("per_page", size, "page size, default 20"),
    )


_SCHEDULE = (_path_id("schedule_id"),)
_WEBHOOK = (_path_id("webhook_id"),)
_TRIGGER = (_path_id("trigger_id"),)


def _schedule_paths() -> dict[str, Schema]:
    one = json_answer(ref("Schedule"), "The schedule.")
    base = "/budpipeline/schedules"
    item = base + "/{schedule_id}"
    update: dict[str, Any] = {
        "errors": (404,),
        "parameters": _SCHEDULE,
        "body": ref("ScheduleUpdate"),
        "description": "Partial update (PATCH and PUT alike).",
    }
    return {
        base: {
            "post": operation(
                "createSchedule",
                "Create a schedule (cron, @every interval or one-time)",
                "schedules",
                {"201": json_answer(ref("Schedule"), "Created.")},
                errors=(404,),
                body=ref("ScheduleCreate"),
                example={
                    "pipeline_id": "pipe_...",
                    "name": "nightly",
                    "cron": "0 2 * * *",
                    "timezone": "UTC",
                },
                post=True,
                description="Accepts the pipeline service's and the official SDK's bodies "
                "(docs/schedules.md).",
            ),
            "get": operation(
                "listSchedules",
                "List schedules",
                "schedules",
                {"200": json_answer(ref("SchedulePage"), "Newest first.")},
                parameters=(
                    *_paging(),
                    query("status", {"type": "string", "enum": list(STATUSES)}, "only this status"),
                ),
                errors=(422,),
            ),
        },
        item: {
            "get": operation(
                "getSchedule",
                "Get a schedule",
                "schedules",
                {"200": one},
                errors=(404,),
                parameters=_SCHEDULE,
            ),
            "patch": operation("updateSchedule", "Update a schedule", "schedules", {"200": one}, **update),
            "put": operation(
                "replaceSchedule", "Update a schedule (PUT)", "schedules", {"200": one}, **update
            ),
            "delete": operation(
                "deleteSchedule",
                "Delete a schedule",
                "schedules",
                {"204": {"description": "Deleted."}},
                errors=(404,),
                parameters=_SCHEDULE,
            ),
        },
        item + "/pause": {
            "post": operation(
                "pauseSchedule",
                "Pause a schedule",
                "schedules",
                {"200": one},
                errors=(404,),
                parameters=_SCHEDULE,
                body=ref("EmptyBody"),
                body_required=False,
                post=True,
            )
        },
        item + "/resume": {
            "post": operation(
                "resumeSchedule",
                "Resume a schedule (times missed while paused do not run)",
                "schedules",
                {"200": one},
                errors=(404,),
                parameters=_SCHEDULE,
                body=ref("EmptyBody"),
                body_required=False,
                post=True,
            )
        },
        item + "/trigger": {
            "post": operation(
                "triggerSchedule",
                "Run the schedule now",
                "schedules",
                {"201": json_answer(ref("StartedExecution"), "The execution started.")},
                errors=(404, 422),
                parameters=_SCHEDULE,
                body=ref("EmptyBody"),
                body_required=False,
                post=True,
            )
        },
        item + "/next-runs": {
            "get": operation(
                "getScheduleNextRuns",
                "The next fire times",
                "schedules",
                {"200": json_answer(ref("NextRuns"), "Upcoming instants (empty unless active).")},
                errors=(404, 422),
                parameters=(
                    *_SCHEDULE,
                    query(
                        "count",
                        {"type": "integer", "minimum": 1, "maximum": MAX_NEXT_RUNS},
                        "how many, default 5",
                    ),
                ),
            )
        },
        item + "/runs": {
            "get": operation(
                "listScheduleRuns",
                "Recorded runs: fired, skipped (with the reason) or failed",
                "schedules",
                {"200": json_answer(ref("ScheduleRuns"), "Newest run time first.")},
                errors=(404, 422),
                parameters=(
                    *_SCHEDULE,
                    query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "default 50"),
                ),
            )
        },
    }


def _webhook_paths() -> dict[str, Schema]:
    base = "/budpipeline/webhooks"
    item = base + "/{webhook_id}"
    result = json_answer(ref("WebhookTriggerResult"), "Started (202) or a repeat of a started message (200).")
    return {
        base: {
            "post": operation(
                "createWebhook",
                "Create an inbound webhook trigger (the secret is shown once)",
                "webhooks",
                {"201": json_answer(ref("WebhookWithSecret"), "Created.")},
                errors=(404,),
                body=ref("WebhookCreate"),
                post=True,
            ),
            "get": operation(
                "listWebhooks",
                "List webhook triggers",
                "webhooks",
                {"200": json_answer(ref("WebhookPage"), "Newest first.")},
                parameters=_paging(),
                errors=(422,),
            ),
        },
        item: {
            "get": operation(
                "getWebhook",
                "Get a webhook trigger",
                "webhooks",
                {"200": json_answer(ref("Webhook"), "The trigger (without its secret).")},
                errors=(404,),
                parameters=_WEBHOOK,
            ),
            "delete": operation(
                "deleteWebhook",
                "Delete a webhook trigger",
                "webhooks",
                {"204": {"description": "Deleted."}},
                errors=(404,),
                parameters=_WEBHOOK,
            ),
        },
        item + "/rotate-secret": {
            "post": operation(
                "rotateWebhookSecret",
                "Replace the secret (the old one stops verifying at once)",
                "webhooks",
                {"200": json_answer(ref("WebhookWithSecret"), "The new secret, shown once.")},
                errors=(404,),
                parameters=_WEBHOOK,
                body=ref("EmptyBody"),
                body_required=False,
                post=True,
            )
        },
        item + "/trigger": {
            "post": operation(
                "triggerWebhook",
                "Trigger with the API key (the official SDK's call)",
                "webhooks",
                {"202": result, "200": result},
                errors=(401, 404, 422),
                parameters=_WEBHOOK,
                body=ref("WebhookSdkTrigger"),
                body_required=False,
                post=True,
                description="`payload` becomes the params; signature headers, when sent, are verified.",
            )
        },
        "/budpipeline/trigger/{webhook_id}": {
            "post": operation(
                "receiveWebhook",
                "The public trigger a sender calls, signed per Standard Webhooks",
                "webhooks",
                {"202": result, "200": result},
                errors=(400, 401, 404, 422),
                parameters=_WEBHOOK,
                body={"type": "object"},
                body_required=False,
                public=True,
                post=True,
                description="No API key: `webhook-id`, `webhook-timestamp` (within 300 s) and "
                "`webhook-signature` made with the trigger's secret authenticate it; the JSON body becomes "
                "the params; a repeated `webhook-id` answers the first execution.",
            )
        },
    }


def _event_paths() -> dict[str, Schema]:
    base = "/event-triggers"
    item = base + "/{trigger_id}"
    one = json_answer(ref("EventTrigger"), "The event trigger.")
    update: dict[str, Any] = {"errors": (404,), "parameters": _TRIGGER, "body": ref("EventTriggerUpdate")}
    return {
        base: {
            "post": operation(
                "createEventTrigger",
                "Start a pipeline when an execution ends",
                "event-triggers",
                {"201": json_answer(ref("EventTrigger"), "Created.")},
                errors=(404,),
                body=ref("EventTriggerCreate"),
                post=True,
            ),
            "get": operation(
                "listEventTriggers",
                "List event triggers",
                "event-triggers",
                {"200": json_answer(ref("EventTriggerPage"), "Newest first.")},
                parameters=(
                    *_paging(),
                    query("event_type", {"type": "string", "enum": list(EVENT_TYPES)}, "only this event"),
                ),
                errors=(422,),
            ),
        },
        item: {
            "get": operation(
                "getEventTrigger",
                "Get an event trigger",
                "event-triggers",
                {"200": one},
                errors=(404,),
                parameters=_TRIGGER,
            ),
            "patch": operation(
                "updateEventTrigger", "Update an event trigger", "event-triggers", {"200": one}, **update
            ),
            "put": operation(
                "replaceEventTrigger",
                "Update an event trigger (PUT)",
                "event-triggers",
                {"200": one},
                **update,
            ),
            "delete": operation(
                "deleteEventTrigger",
                "Delete an event trigger",
                "event-triggers",
                {"204": {"description": "Deleted."}},
                errors=(404,),
                parameters=_TRIGGER,
            ),
        },
        item + "/firings": {
            "get": operation(
                "listEventTriggerFirings",
                "What the trigger did for each source execution",
                "event-triggers",
                {"200": json_answer(ref("EventFirings"), "Fired, skipped by a loop guard, or failed.")},
                errors=(404,),
                parameters=_TRIGGER,
            )
        },
    }


def trigger_paths() -> dict[str, Schema]:
    return {**_schedule_paths(), **_webhook_paths(), **_event_paths()}
