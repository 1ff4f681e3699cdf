"""Helpers of the security suites: a recording loopback listener and a run-and-wait shortcut."""

from __future__ import annotations

from typing import Any

import attrs
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

Client = TestClient[web.Request, web.Application]


@attrs.define
class Sink:
    """A listener whose `hits` lists every request it received (method and path)."""

    server: TestServer
    hits: list[str]

    @property
    def port(self) -> int:
        port = self.server.port
        assert port is not None
        return port

    def url(self, path: str = "/hit") -> str:
        return str(self.server.make_url(path))


async def start_sink(aiohttp_server: Any, host: str = "127.0.0.1") -> Sink:
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(f"{request.method} {request.path_qs}")
        return web.json_response({"reached": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    server: TestServer = await aiohttp_server(app, host=host)
    return Sink(server, hits)


async def json_of(client: Client, method: str, path: str, *, expect: int, **kwargs: Any) -> Any:
    """Send a request, assert the status, return the parsed JSON body."""
    response = await client.request(method, path, **kwargs)
    text = await response.text()
    assert response.status == expect, f"{method} {path} -> {response.status}: {text}"
    return await response.json() if text else None


def step(step_id: str, action: str, **params: Any) -> dict[str, Any]:
    return {"id": step_id, "action": action, "params": params}


async def run(client: Client, definition: dict[str, Any], *, wait: float = 10.0, **body: Any) -> Any:
    """Run a definition ephemerally and long-poll (`wait` seconds at a time) until it ends."""
    created = await json_of(
        client, "POST", "/budpipeline/run", json={"pipeline_definition": definition, **body}, expect=201
    )
    path = f"/budpipeline/executions/{created['id']}"
    for _ in range(max(1, int(10 / wait))):
        execution = await json_of(client, "GET", path, params={"wait": f"{wait:g}"}, expect=200)
        if execution["status"] not in ("pending", "running"):
            break
    assert execution["status"] not in ("pending", "running"), execution
    return execution
