"""Helpers of the log tests: small log-bus settings and a driver that plays the engine.

The app is the real `create_app` (tests/conftest.py); `Driver` creates execution rows and emits
lines through the app's log bus exactly as the engine does, then ends an execution the way the
scheduler does (commit the status, emit the last line, close the streams). So a test can emit
thousands of lines and end the execution exactly when it wants.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import attrs
from aiohttp import web

from budai_async.models import Execution, ExecutionStatus
from budai_server.appkeys import LOGBUS, STORE
from budai_server.logs.bus import LOG_SETTINGS, LogBus, LogSettings
from budai_server.store.database import Store

FAST = LogSettings(
    flush_interval_seconds=0.01,
    flush_batch_lines=200,
    subscriber_buffer_lines=500,
    heartbeat_seconds=0.05,
    frame_max_lines=50,
    backlog_page_lines=40,
    send_timeout_seconds=2.0,
    test_hooks=True,
)


def with_log_settings(app: web.Application, settings: LogSettings = FAST) -> web.Application:
    """Tune the app's log bus (before the app starts)."""
    app[LOG_SETTINGS] = settings
    return app


async def eventually(check: Callable[[], bool], *, within: float = 5.0) -> None:
    """Wait until `check()` is true, polling every millisecond; fail after `within` seconds."""
    async with asyncio.timeout(within):
        while True:
            if check():
                return
            await asyncio.sleep(0.001)


class Driver:
    """Plays the engine and the scheduler for one running app."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self._count = 0

    @property
    def bus(self) -> LogBus:
        return self.app[LOGBUS]

    @property
    def store(self) -> Store:
        return self.app[STORE]

    def subscribers(self, execution_id: str) -> int:
        channel = self.bus._channels.get(execution_id)
        return 0 if channel is None else len(channel.subscribers)

    async def create(self, status: ExecutionStatus = ExecutionStatus.RUNNING) -> str:
        self._count += 1
        execution = Execution(id=f"exec_t{self._count}", status=status, created_at=datetime.now(UTC))
        await self.store.insert_execution(execution, {"steps": []})
        return execution.id

    def emit(self, execution_id: str, count: int, *, level: str = "info", step_id: str | None = None) -> None:
        for i in range(count):
            self.bus.emit(execution_id, level, f"line {i}", step_id)

    async def finish(self, execution_id: str, status: ExecutionStatus = ExecutionStatus.COMPLETED) -> None:
        """End like the scheduler: commit the status, emit the last line, then close the streams."""
        execution = await self.store.get_execution(execution_id)
        assert execution is not None
        await self.store.save_execution(
            attrs.evolve(execution, status=status, completed_at=datetime.now(UTC))
        )
        self.bus.emit(execution_id, "info", f"execution {status}")
        self.bus.close_execution(execution_id, str(status))

    async def settle(self) -> None:
        """Let lazily numbered lines get their seq, then commit everything."""
        await eventually(lambda: not any(channel.waiting for channel in self.bus._channels.values()))
        await self.bus.flush()
