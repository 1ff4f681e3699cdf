"""Helpers for the trigger tests: a server whose trigger clock is a `FakeClock`, loop access."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
from aiohttp import web
from aiohttp.test_utils import TestServer

from budai_server.config import ServerConfig
from budai_server.routes.trigger_wiring import LOOP
from budai_server.triggers.clock import CLOCK, FakeClock
from budai_server.triggers.firing import ScheduleLoop

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday, 08:00 UTC


def fake_app(config: ServerConfig, clock: FakeClock, *, loop_running: bool = False) -> web.Application:
    """The real app with the trigger clock replaced; the background loop is stopped unless asked."""
    from budai_server.app import create_app

    app = create_app(config)
    app[CLOCK] = clock
    if not loop_running:

        async def stop_loop(app: web.Application) -> None:
            await app[LOOP].stop()

        app.on_startup.append(stop_loop)
    return app


async def start(aiohttp_server: Any, config: ServerConfig, clock: FakeClock, **kwargs: Any) -> TestServer:
    server: TestServer = await aiohttp_server(fake_app(config, clock, **kwargs))
    return server


def loop_of(server: TestServer) -> ScheduleLoop:
    return server.app[LOOP]


def same_db(config: ServerConfig, **changes: Any) -> ServerConfig:
    return attrs.evolve(config, **changes)
