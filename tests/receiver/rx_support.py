"""Helpers shared by the receiver tests: signed requests, recording handlers, ports, processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from budai_async.webhooks import signature_headers
from receiver import CallbackEvent, Handlers, Receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_b2xkIHNlY3JldCBmb3Igcm90YXRpb24gdGVzdHMhIQ=="
FOREIGN_SECRET = "whsec_Zm9yZWlnbiBzZWNyZXQgbm9ib2R5IGNvbmZpZ3VyZWQ="
PATH = "/webhooks"
REDIS_URL = "redis://127.0.0.1:6379/0"
Serve = Callable[[Receiver], Awaitable[TestClient[Any, Any]]]


def payload(execution_id: str | None = None, type_: str = "execution.completed", **extra: Any) -> bytes:
    """A callback body as the server sends it."""
    body = {
        "type": type_,
        "execution_id": execution_id or f"exec_{uuid.uuid4().hex}",
        "pipeline_id": "pipe_1",
        "status": "completed" if type_ == "execution.completed" else "failed",
        "outputs": {"answer": 42},
        "error": None if type_ == "execution.completed" else "step failed",
        "tags": ["test"],
        "completed_at": "2025-01-01T00:00:00Z",
    }
    body.update(extra)
    return json.dumps(body).encode()


def signed(
    body: bytes,
    msg_id: str | None = None,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    content_type: str = "application/json",
) -> dict[str, str]:
    """Headers of a correctly signed delivery of `body`."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    headers = signature_headers(secret, msg_id, body, int(time.time()) if timestamp is None else timestamp)
    headers["Content-Type"] = content_type
    return headers


class Recorder:
    """Handlers that record what they saw; `fail` makes the next N calls of a handler raise."""

    def __init__(self) -> None:
        self.handlers = Handlers()
        self.completed: list[CallbackEvent] = []
        self.failed: list[CallbackEvent] = []
        self.any: list[CallbackEvent] = []
        self.errors: list[tuple[str, str]] = []
        self.fail: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self.changed = asyncio.Event()

        @self.handlers.on_complete(name="completed")
        async def completed(event: CallbackEvent) -> None:
            await self._run("completed", event, self.completed)

        @self.handlers.on_failure(name="failed")
        async def failed(event: CallbackEvent) -> None:
            await self._run("failed", event, self.failed)

        @self.handlers.on("execution.*", name="any")
        async def any_(event: CallbackEvent) -> None:
            await self._run("any", event, self.any)

        @self.handlers.on_error
        async def on_error(event: CallbackEvent, failure: Any) -> None:
            self.errors.append((failure.handler, event.execution_id))

    async def _run(self, name: str, event: CallbackEvent, into: list[CallbackEvent]) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.fail.get(name, 0) > 0:
            self.fail[name] -= 1
            raise RuntimeError(f"{name} told to fail")
        into.append(event)
        self.changed.set()

    def ids(self, name: str = "any") -> list[str]:
        return [event.execution_id for event in getattr(self, name)]


async def wait_for(predicate: Callable[[], bool | Awaitable[bool]], within: float = 5.0) -> None:
    """Poll `predicate` until it is true; fail the test after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = predicate()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


HANDLER_MODULE = """
import asyncio, os
from receiver import Handlers

handlers = Handlers()
RECORD = os.environ["RX_RECORD_DIR"]

@handlers.on("execution.*", name="record")
async def record(event):
    if os.environ.get("RX_BLOCK"):
        with open(os.path.join(RECORD, "started-%d" % os.getpid()), "a") as f:
            f.write(event.execution_id + "\\n")
        await asyncio.sleep(3600)
    delay = float(os.environ.get("RX_DELAY", "0"))
    if delay:
        await asyncio.sleep(delay)
    with open(os.path.join(RECORD, "done-%d" % os.getpid()), "a") as f:
        f.write(event.execution_id + "\\n")
"""


def recorded(directory: Path, prefix: str = "done-") -> list[str]:
    """Execution ids recorded by the subprocess handler module, across all processes."""
    lines: list[str] = []
    for path in directory.glob(f"{prefix}*"):
        lines += path.read_text().split()
    return lines


class ReceiverProcess:
    """``python -m receiver`` in a subprocess on a free port, with the recording handler module."""

    def __init__(
        self, workdir: Path, store_url: str, env: Mapping[str, str] | None = None, *args: str
    ) -> None:
        self.workdir = workdir
        (workdir / "rx_handlers.py").write_text(HANDLER_MODULE)
        (workdir / "records").mkdir(exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "receiver", "--secret", SECRET, "--handlers", "rx_handlers:handlers",
            "--store", store_url, "--port", str(self.port), "--log-level", "WARNING", *args,
        ]  # fmt: skip
        full_env = {**os.environ, "RX_RECORD_DIR": str(workdir / "records"), **(env or {})}
        full_env.pop("BUDAI_WEBHOOK_SECRET", None)
        self.log = (workdir / f"receiver-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            command, cwd=workdir, env=full_env, stdout=self.log, stderr=subprocess.STDOUT
        )

    async def ready(self, session: aiohttp.ClientSession, within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"receiver exited with {self.proc.returncode}: {self.output()}")
            try:
                async with session.get(self.url + "/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"receiver not ready in {within}s: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def close(self) -> None:
        self.kill()
        self.log.close()
