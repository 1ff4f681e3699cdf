"""The real server app on its own event loop thread, for tests of the blocking `BudClient`.

`BudClient` refuses to run inside a running event loop, so its tests are plain functions; the
server they talk to runs here, on a free port, in a thread of the test process.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from aiohttp import web

from budai_server.app import create_app
from budai_server.config import ServerConfig

__all__ = ["ServerThread"]


class ServerThread:
    """``with ServerThread(config) as server: BudClient(base_url=server.url)``; stops on exit."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="budai-test-server", daemon=True)

    async def _start(self) -> str:
        runner = web.AppRunner(create_app(self.config), handle_signals=False)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ServerThread:
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
