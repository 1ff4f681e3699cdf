"""Run the real server as a subprocess (`python -m budai_server`) for restart and CLI tests."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

LISTENING = "budai-server listening on "


@asynccontextmanager
async def server_process(
    db: Path, *extra: str, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """Start `python -m budai_server` on a free port; yield the process and its base URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "budai_server",
        "--db",
        str(db),
        "--port",
        "0",
        "--log-level",
        "warning",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            while True:
                line = (await process.stdout.readline()).decode()
                if not line:
                    stderr = await process.stderr.read() if process.stderr else b""
                    raise AssertionError(f"server exited before listening: {stderr.decode()}")
                if line.startswith(LISTENING):
                    break
        yield process, line[len(LISTENING) :].strip()
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def call(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    async with session.request(method, url, **kwargs) as response:
        body = await response.json()
        assert response.status < 300, body
        return body
