"""`create_app(config)`: the aiohttp application of the local server, wired but not started.

The shared objects (store, scheduler, action registry, metrics) are built here, before any route
module's ``setup(app)`` runs, so a setup can register terminal listeners or migrations. Their
lifetimes are aiohttp cleanup contexts, started in this order and stopped in reverse:

1. store      open SQLite, migrate                      ... close (after a final flush)
2. logs       start the log bus                         ... flush and stop it
3. engine     HTTP session for actions (guarded by the  ... close the session
              outbound policy), seed inventory
4. contexts added by route setups (outbox, ...)
5. scheduler  recover interrupted executions, admit     ... stop admitting, let running executions
              finish for the grace period, interrupt the rest (they resume at the next start)

aiohttp stops accepting connections and finishes in-flight requests before the cleanup half runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from budai_server import tracing
from budai_server.actions.builtins import builtin_registry
from budai_server.actions.registry import ActionRegistry, ActionSettings
from budai_server.appkeys import ACTIONS, CONFIG, HTTP, LOGBUS, SCHEDULER, STORE
from budai_server.config import ServerConfig
from budai_server.engine import templates
from budai_server.engine.runner import ExecutionRunner
from budai_server.logs.bus import logbus_ctx
from budai_server.metrics import METRICS, Metrics
from budai_server.outbound import make_session
from budai_server.routes import ROUTE_SETUPS
from budai_server.routes.definitions import CHECKER, DefinitionChecker, DefinitionLimits
from budai_server.routes.errors import make_error_middleware, set_request_id_header
from budai_server.routes.middleware import (
    make_auth_middleware,
    make_fault_middleware,
    make_idempotency_middleware,
)
from budai_server.scheduler import Scheduler
from budai_server.store.database import Store
from budai_server.store.inventory import Inventory
from budai_server.tracing import tracing_active

__all__ = ["INVENTORY", "build_registry", "create_app"]

logger = logging.getLogger(__name__)

INVENTORY: web.AppKey[Inventory] = web.AppKey("budai_inventory", Inventory)


def build_registry(config: ServerConfig) -> ActionRegistry:
    """Built-in actions, then installed entry points, then `--actions` modules (import errors raise)."""
    registry = builtin_registry()
    registry.load_entry_points()
    for module in config.action_modules:
        registry.load_module(module)
    return registry


def create_app(config: ServerConfig, *, registry: ActionRegistry | None = None) -> web.Application:
    """Build the server application for `config` (start it with an aiohttp runner or test server)."""
    metrics = Metrics()
    store = Store(config.db_path, flush_interval=config.store_flush_interval_seconds)
    scheduler = Scheduler(
        store,
        max_concurrent=config.max_concurrent_executions,
        metrics=metrics,
        recovery=config.recovery,
        timeout_grace_seconds=config.timeout_grace_seconds,
        shutdown_grace_seconds=config.shutdown_grace_seconds,
    )
    actions = registry if registry is not None else build_registry(config)

    middlewares = [make_error_middleware(metrics)]
    if config.faults.enabled:
        middlewares.append(make_fault_middleware(config.faults))
    if config.api_key:
        middlewares.append(make_auth_middleware(config.api_key))
    middlewares.append(make_idempotency_middleware(lambda _request: store))

    if tracing_active():  # OpenTelemetry loaded with a provider: continue callers' traces
        middlewares.insert(0, tracing.middleware)
        scheduler.traces = tracing.ExecutionTraces()
        scheduler.add_terminal_listener(scheduler.traces.finished)
    app = web.Application(middlewares=middlewares, client_max_size=config.max_body_bytes)
    app[CONFIG] = config
    app[STORE] = store
    app[SCHEDULER] = scheduler
    app[METRICS] = metrics
    app[ACTIONS] = actions
    limits = DefinitionLimits(
        max_steps=config.max_steps_per_definition,
        max_definition_bytes=config.max_definition_bytes,
        max_params_bytes=config.max_params_bytes,
    )
    app[CHECKER] = DefinitionChecker(lambda: actions.specs, templates.check, limits)
    app.on_response_prepare.append(set_request_id_header)

    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(logbus_ctx)
    app.cleanup_ctx.append(_engine_ctx)
    if config.guide_fixtures:
        from budai_server.fixtures import guide_fixtures_ctx

        app.cleanup_ctx.append(guide_fixtures_ctx)
    for setup in ROUTE_SETUPS:
        setup(app)
    app.cleanup_ctx.append(_scheduler_ctx)
    app.on_shutdown.append(_release_long_polls)
    return app


async def _release_long_polls(app: web.Application) -> None:
    """Open long-polls answer now, so shutdown does not wait for their whole `wait`."""
    scheduler: Scheduler = app[SCHEDULER]
    scheduler.release_waiters()


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    store: Store = app[STORE]
    await store.open()
    ttl = app[CONFIG].idempotency_ttl_seconds
    purger = None
    if ttl is not None:
        await _purge_idempotency(store, ttl)
        purger = asyncio.create_task(_purge_hourly(store, ttl), name="budai-idempotency-purge")
    try:
        yield
    finally:
        if purger is not None:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
        await store.close()


async def _purge_idempotency(store: Store, ttl: float) -> None:
    """Forget idempotency keys older than `ttl` seconds."""
    try:
        removed = await store.purge_idempotency(datetime.now(UTC) - timedelta(seconds=ttl))
    except sqlite3.Error:
        logger.exception("purging idempotency keys failed")
        return
    if removed:
        logger.info("forgot %d idempotency key(s) older than %g s", removed, ttl)


async def _purge_hourly(store: Store, ttl: float) -> None:
    while True:
        await asyncio.sleep(3600)
        await _purge_idempotency(store, ttl)


async def _engine_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    inventory = Inventory(app[STORE], config.inventory)
    await inventory.seed()
    app[INVENTORY] = inventory
    timeout = aiohttp.ClientTimeout(total=config.http_timeout_seconds)
    async with make_session(config.outbound_policy(), timeout=timeout) as session:
        app[HTTP] = session
        yield


async def _scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    scheduler: Scheduler = app[SCHEDULER]
    runner = ExecutionRunner(
        actions=app[ACTIONS],
        inventory=app[INVENTORY],
        http=app[HTTP],
        settings=ActionSettings(
            notification_url=config.notification_url,
            http_timeout_seconds=config.http_timeout_seconds,
            outbound=config.outbound_policy(),
        ),
        render_max_seconds=config.template_render_max_seconds,
    )
    await scheduler.start(runner, app.get(LOGBUS))
    try:
        yield
    finally:
        await scheduler.stop()
