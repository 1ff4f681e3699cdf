"""Callback deliveries over HTTP, and the outbox's wiring into the app.

`GET /budpipeline/executions/{id}/callbacks` answers ``{items, total}``: each delivery with its
``webhook-id``, url, status (pending, delivered, gone, failed), next attempt time and every
attempt made (status code or error, duration, outcome). `setup` also installs the outbox itself
(`budai_server.outbox.delivery.install`), so its cleanup context lands between the store and the scheduler.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from aiohttp import web

from budai_async._convert import format_datetime
from budai_server.appkeys import OUTBOX
from budai_server.outbox.delivery import Outbox, install
from budai_server.outbox.store import Attempt, Delivery
from budai_server.routes.context import config_of, store_of
from budai_server.routes.errors import ApiError, json_response

__all__ = ["delivery_view", "setup"]


def _time(epoch: float | None) -> str | None:
    return None if epoch is None else format_datetime(datetime.fromtimestamp(epoch, UTC))


def delivery_view(delivery: Delivery, attempts: list[Attempt], max_attempts: int) -> dict[str, Any]:
    """The JSON form of one delivery (the body is not repeated: it is the execution's own data)."""
    return {
        "id": delivery.id,
        "execution_id": delivery.execution_id,
        "type": delivery.event_type,
        "url": delivery.url,
        "status": delivery.status.value,
        "attempt_count": delivery.attempts,
        "max_attempts": max_attempts,
        "next_attempt_at": _time(delivery.next_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": _time(delivery.created_at),
        "updated_at": _time(delivery.updated_at),
        "attempts": [
            {
                "number": attempt.number,
                "started_at": _time(attempt.started_at),
                "duration_seconds": attempt.duration_seconds,
                "status_code": attempt.status_code,
                "error": attempt.error,
                "outcome": attempt.outcome,
            }
            for attempt in attempts
        ],
    }


async def list_callbacks(request: web.Request) -> web.Response:
    execution_id = request.match_info["execution_id"]
    if await store_of(request).get_execution(execution_id) is None:
        raise ApiError.not_found("execution", execution_id)
    outbox = cast(Outbox, request.app[OUTBOX])
    max_attempts = len(config_of(request).callback_retry_schedule)
    items = [
        delivery_view(delivery, attempts, max_attempts)
        for delivery, attempts in await outbox.deliveries(execution_id)
    ]
    return json_response({"items": items, "total": len(items)})


def setup(app: web.Application) -> None:
    install(app)
    app.router.add_get("/budpipeline/executions/{execution_id}/callbacks", list_callbacks)
