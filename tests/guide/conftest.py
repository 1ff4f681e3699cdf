"""The guide's world: a real server with `--guide-fixtures`, a `BudClient` named `client`, a receiver.

Every test of this folder runs one code block of the user guide (spec/pipelines-sdk-guide.txt)
as written, against its own fresh server on a thread (`threaded_server`): the guide's sample ids
(``pipe_abc123``, ``exec_abc123``, ``model_xyz789``, ``cluster_backup``...) exist there, created by
`budai_server.fixtures`, and the fixture executions have ended before the snippet starts.

Markers: ``guide_hold(seconds)`` keeps ``exec_abc123`` running that long (cancel, live logs);
``unhealthy(*cluster_ids)`` makes clusters unhealthy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from guide_support import API_KEY, FIXTURE_EXECUTIONS, SECRET, Webhooks
from threaded_server import AppThread, ServerThread

from budai_async import BudClient
from budai_server.config import InventorySettings, ServerConfig


@pytest.fixture
def guide_config(tmp_path: Path, request: pytest.FixtureRequest) -> ServerConfig:
    hold = request.node.get_closest_marker("guide_hold")
    unhealthy = request.node.get_closest_marker("unhealthy")
    return ServerConfig(
        db_path=tmp_path / "guide.db",
        port=0,
        api_key=API_KEY,
        guide_fixtures=True,
        guide_fixtures_hold=(("exec_abc123", float(hold.args[0])),) if hold else (),
        max_concurrent_executions=8,
        long_poll_max_seconds=10.0,
        shutdown_grace_seconds=0.2,
        store_flush_interval_seconds=0.002,
        timeout_grace_seconds=0.5,
        http_timeout_seconds=5.0,
        inventory=InventorySettings(seed=1234, unhealthy_clusters=tuple(unhealthy.args) if unhealthy else ()),
        webhook_secret=SECRET,
        callback_retry_schedule=(0.0, 0.05, 0.1, 0.2, 0.5),
        callback_jitter=0.0,
    )


@pytest.fixture
def guide_server(guide_config: ServerConfig) -> Iterator[ServerThread]:
    """The server, once the fixture executions that are not held have ended."""
    with ServerThread(guide_config) as server:
        held = {execution_id for execution_id, _seconds in guide_config.guide_fixtures_hold}
        with BudClient(api_key=API_KEY, base_url=server.url) as setup:
            setup.executions.wait_all([i for i in FIXTURE_EXECUTIONS if i not in held], timeout=60)
        yield server


@pytest.fixture
def client(guide_server: ServerThread) -> Iterator[BudClient]:
    """The guide's ``client = BudClient(api_key="your-key")``, on the test server."""
    with BudClient(api_key=API_KEY, base_url=guide_server.url, retry_initial_delay=0.01) as made:
        yield made


@pytest.fixture
def webhooks(tmp_path: Path) -> Iterator[Webhooks]:
    hooks = Webhooks(tmp_path)
    with AppThread(hooks.app, name="guide-receivers") as served:
        hooks.url = served.url
        yield hooks


@pytest.fixture
def example_api() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The guide's ``https://api.example.com/data``: answers POSTs and records them."""
    seen: list[dict[str, Any]] = []

    async def data(request: web.Request) -> web.Response:
        seen.append({"method": request.method, "content_type": request.content_type})
        return web.json_response({"items": [1, 2, 3]})

    def make() -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/data", data)
        return app

    with AppThread(make, name="guide-example-api") as served:
        yield served.url, seen


@pytest.fixture
def short_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The guide polls with ``time.sleep(5)``; the test keeps the call but sleeps 50 ms."""
    asked: list[float] = []
    real: Callable[[float], None] = time.sleep

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        real(min(seconds, 0.05))

    monkeypatch.setattr(time, "sleep", sleep)
    return asked


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "guide_hold(seconds): exec_abc123 stays running that long")
    config.addinivalue_line("markers", "unhealthy(*cluster_ids): clusters the server reports unhealthy")
