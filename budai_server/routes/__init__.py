"""HTTP routes of the local server; `ROUTE_SETUPS` is the list `create_app` registers, in order.

A part that adds routes appends its module's ``setup(app)`` here. A setup may also register
terminal listeners on ``app[SCHEDULER]`` and its own cleanup contexts (they start after the
store and the engine, and before the scheduler).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from budai_server.routes import (
    actions,
    batch,
    callbacks,
    cleanup,
    event_triggers,
    executions,
    health,
    logs,
    openapi,
    pipelines,
    schedules,
    webhook_triggers,
)

__all__ = ["ROUTE_SETUPS"]

ROUTE_SETUPS: list[Callable[[web.Application], None]] = [
    health.setup,
    pipelines.setup,
    executions.setup,
    cleanup.setup,
    actions.setup,
    logs.setup,
    batch.setup,
    callbacks.setup,
    schedules.setup,
    webhook_triggers.setup,
    event_triggers.setup,
    openapi.setup,
]
