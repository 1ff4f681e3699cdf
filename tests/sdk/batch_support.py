"""Helpers for the fan-out tests: fast pipelines, server-side counts, a server on its own thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from aiohttp import web

from budai_server.appkeys import STORE
from budai_server.config import ServerConfig

NOOP: dict[str, Any] = {
    "steps": [{"id": "out", "action": "set_output", "params": {"values": {"n": "{{ params.n }}"}}}]
}
"""A pipeline that does nothing but echo `n`: 2,000 of them finish in about a second."""

DELAY: dict[str, Any] = {
    "steps": [{"id": "wait", "action": "delay", "params": {"seconds": "{{ params.seconds }}"}}]
}


async def server_count(app: web.Application, sql: str = "SELECT COUNT(*) FROM executions") -> int:
    """A number read straight from the server's store (the truth the SDK's answers are checked against)."""
    rows = await app[STORE].fetchall(sql)
    return int(rows[0][0])


async def executions_per_param(app: web.Application) -> dict[Any, int]:
    """How many executions the server holds for each value of `params.n`."""
    rows = await app[STORE].fetchall(
        "SELECT json_extract(params, '$.n') AS n, COUNT(*) FROM executions GROUP BY n"
    )
    return {row[0]: int(row[1]) for row in rows}


class ConnectionSampler:
    """Samples the server's open connections every few ms while a batch runs; keeps the peak."""

    def __init__(self, app_server: Any) -> None:
        self._server = app_server.runner.server
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, len(self._server.connections))
            await asyncio.sleep(0.002)

    async def __aenter__(self) -> ConnectionSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task


@contextmanager
def threaded_server(config: ServerConfig) -> Iterator[str]:
    """Run the real server on its own thread and event loop; yields its base URL.

    For tests whose client side must own its loop alone (no server tasks to confuse "no task left
    behind"), or that call the CLI, which runs `asyncio.run` itself.
    """
    from budai_server.app import create_app

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner(create_app(config))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["runner"] = runner
        state["port"] = runner.addresses[0][1]

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        finally:
            ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="budai-test-server", daemon=True)
    thread.start()
    ready.wait(10)
    if "port" not in state:
        raise RuntimeError("the test server did not start")
    try:
        yield f"http://127.0.0.1:{state['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
