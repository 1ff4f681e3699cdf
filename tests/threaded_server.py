"""Real aiohttp apps on their own event loop thread, for tests of the blocking `BudClient`.

`BudClient` refuses to run inside a running event loop, so its tests are plain functions; the
server (and any receiver) they talk to runs here, on a free port, in a thread of the test process.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

from budai_server.config import ServerConfig

__all__ = ["AppThread", "ServerThread"]


class AppThread:
    """``with AppThread(make_app) as served: served.url``; the app is built and stopped on its loop."""

    def __init__(self, make_app: Callable[[], web.Application], name: str = "budai-test-app") -> None:
        self.url = ""
        self._make_app = make_app
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)

    async def _start(self) -> str:
        runner = web.AppRunner(self._make_app(), handle_signals=False)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> AppThread:
        self._thread.start()
        try:
            self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=60)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=60)
        self._loop.close()


class ServerThread(AppThread):
    """The real budai server app for `config` (``with ServerThread(config) as server: server.url``)."""

    def __init__(self, config: ServerConfig) -> None:
        from budai_server.app import create_app

        super().__init__(lambda: create_app(config), name="budai-test-server")
        self.config = config
