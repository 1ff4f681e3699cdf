"""Helpers for the callback outbox tests: a scripted webhook endpoint and waits on the callbacks API."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import standardwebhooks
from aiohttp import web
from aiohttp.test_utils import TestClient

from budai_async.webhooks import verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#: Tiny delays so retries happen within a test: now, then 30 ms between attempts.
FAST_SCHEDULE = (0.0, 0.03, 0.03, 0.03)

Client = TestClient[web.Request, web.Application]


@attrs.frozen
class Hit:
    """One request the endpoint received."""

    headers: dict[str, str]
    body: bytes
    at: float


class Endpoint:
    """A tiny aiohttp app standing in for a webhook endpoint.

    `script` lists the status of each request in turn (then `default`); an int is answered at once,
    a float means "sleep that long, then 200". It records every request and the peak number of
    requests it was answering at once. With a `gate`, every answer waits until the gate is set.
    """

    def __init__(
        self, script: Sequence[int | float] = (), *, default: int = 200, gate: asyncio.Event | None = None
    ) -> None:
        self.script = list(script)
        self.default = default
        self.gate = gate
        self.hits: list[Hit] = []
        self.active = 0
        self.peak = 0
        self.on_hit: Callable[[Hit], None] | None = None
        self._changed = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        hit = Hit(dict(request.headers), await request.read(), time.time())
        self.hits.append(hit)
        if self.on_hit is not None:
            self.on_hit(hit)
        self._changed.set()
        answer = self.script.pop(0) if self.script else self.default
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if isinstance(answer, float):
                await asyncio.sleep(answer)
                answer = 200
            return web.Response(status=answer, text=f"answer {answer}")
        finally:
            self.active -= 1

    async def wait_hits(self, count: int, within: float = 10.0) -> list[Hit]:
        """Wait until at least `count` requests arrived."""
        async with asyncio.timeout(within):
            while len(self.hits) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.hits


def check_signature(hit: Hit, secret: str = SECRET, now: float | None = None) -> None:
    """Verify a request with our verifier and with the `standardwebhooks` package."""
    verify([secret], hit.headers, hit.body, now=hit.at if now is None else now)
    lowered = {key.lower(): value for key, value in hit.headers.items()}
    standardwebhooks.Webhook(secret).verify(hit.body, lowered, json_parse=False)


def free_port() -> int:
    """A port nothing listens on right now (bound once by us, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def callbacks_of(client: Client, execution_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/budpipeline/executions/{execution_id}/callbacks")
    body = await response.json()
    assert response.status == 200, body
    items: list[dict[str, Any]] = body["items"]
    return items


async def wait_delivery(
    client: Client,
    execution_id: str,
    until: Callable[[dict[str, Any]], bool] = lambda d: d["status"] != "pending",
    within: float = 10.0,
) -> dict[str, Any]:
    """Poll the callbacks API until the execution's one delivery satisfies `until`."""
    async with asyncio.timeout(within):
        while True:
            items = await callbacks_of(client, execution_id)
            if items and until(items[0]):
                assert len(items) == 1, items
                return items[0]
            await asyncio.sleep(0.01)
