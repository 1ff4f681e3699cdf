"""Typed `web.AppKey`s for the objects the server app shares between routes and background tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from budai_server.config import ServerConfig

CONFIG: web.AppKey[ServerConfig] = web.AppKey("config")
STORE: web.AppKey[Any] = web.AppKey("store")  # budai_server.store.database.Store
SCHEDULER: web.AppKey[Any] = web.AppKey("scheduler")  # budai_server.scheduler.Scheduler
LOGBUS: web.AppKey[Any] = web.AppKey("logbus")  # budai_server.logs.bus.LogBus
OUTBOX: web.AppKey[Any] = web.AppKey("outbox")  # budai_server.outbox.delivery.Outbox
ACTIONS: web.AppKey[Any] = web.AppKey("actions")  # budai_server.actions.ActionRegistry
HTTP: web.AppKey[Any] = web.AppKey("http")  # aiohttp.ClientSession used by api_call / notification
