"""Fixtures every suite shares: the real server app on a temporary SQLite file.

* `server_config` - a `ServerConfig` on ``tmp_path`` with small delays (override it in a module,
  or build variants with ``attrs.evolve(server_config, ...)``).
* `server_app` - the real `create_app(server_config)`.
* `bud_server` - that app served by pytest-aiohttp on a free port; `bud_url` is its base URL.
* `api` - an aiohttp test client for raw HTTP against `bud_server`.
* `make_bud_server` - start another server with config overrides (auth, faults, limits).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from budai_server.config import InventorySettings, ServerConfig

BudServerFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture
def server_config(tmp_path: Any) -> ServerConfig:
    return ServerConfig(
        db_path=tmp_path / "budai.db",
        host="127.0.0.1",
        port=0,
        max_concurrent_executions=4,
        long_poll_max_seconds=10.0,
        shutdown_grace_seconds=0.5,
        store_flush_interval_seconds=0.002,
        timeout_grace_seconds=0.5,
        http_timeout_seconds=5.0,
        inventory=InventorySettings(latency_seconds=0.0, failure_rate=0.0, seed=1234),
    )


def create_app(config: ServerConfig) -> web.Application:
    """The real app factory, imported on first use so suites that never start a server load fast."""
    from budai_server.app import create_app as create

    return create(config)


@pytest.fixture
def server_app(server_config: ServerConfig) -> web.Application:
    return create_app(server_config)


@pytest.fixture
async def bud_server(aiohttp_server: Any, server_app: web.Application) -> TestServer:
    server: TestServer = await aiohttp_server(server_app)
    return server


@pytest.fixture
def bud_url(bud_server: TestServer) -> str:
    """Base URL of the running server, without a trailing slash (e.g. http://127.0.0.1:41234)."""
    return str(bud_server.make_url("")).rstrip("/")


@pytest.fixture
async def api(aiohttp_client: Any, bud_server: TestServer) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(bud_server)
    return client


@pytest.fixture
def make_bud_server(aiohttp_server: Any, server_config: ServerConfig) -> BudServerFactory:
    """Start another real server whose config is `server_config` with the given fields replaced."""

    async def make(**overrides: Any) -> TestServer:
        server: TestServer = await aiohttp_server(create_app(attrs.evolve(server_config, **overrides)))
        return server

    return make
