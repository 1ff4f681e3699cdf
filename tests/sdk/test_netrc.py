"""`.netrc` credentials (aiohttp's `trust_env` behaviour) against the real server: read once when the
client's session opens and sent on every call; `trust_env=False` sends none. The real app gets a
middleware that records each request's Authorization header."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sdk_support import log_step

from budai_async._network import netrc_authorization
from budai_server.config import ServerConfig

ALICE = "Basic " + base64.b64encode(b"alice:s3cret").decode()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
def seen_auth() -> list[str | None]:
    return []


@pytest.fixture
def server_app(server_config: ServerConfig, seen_auth: list[str | None]) -> web.Application:
    from budai_server.app import create_app

    app = create_app(server_config)

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        seen_auth.append(request.headers.get("Authorization"))
        return await handler(request)

    app.middlewares.insert(0, record)
    return app


@pytest.fixture
def netrc_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "netrc"
    path.write_text("machine 127.0.0.1 login alice password s3cret\n")
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))
    return path


async def test_netrc_credentials_go_on_every_call(
    bud_url: str, make_client: Any, netrc_file: Path, seen_auth: list[str | None]
) -> None:
    client = make_client(bud_url)
    pipeline = await client.pipelines.create(name="netrc", definition={"steps": [log_step("a")]})
    assert (await client.pipelines.get(pipeline.id)).name == "netrc"
    await asyncio.to_thread(netrc_file.write_text, "machine 127.0.0.1 login bob password x\n")
    await client.pipelines.get(pipeline.id)  # read once, when the session opened
    assert seen_auth == [ALICE] * 3


async def test_trust_env_false_sends_no_netrc_credentials(
    bud_url: str, make_client: Any, netrc_file: Path, seen_auth: list[str | None]
) -> None:
    client = make_client(bud_url, trust_env=False)
    await client.pipelines.create(name="plain", definition={"steps": [log_step("a")]})
    assert seen_auth == [None]


async def test_an_api_key_wins_over_netrc(
    bud_url: str, make_client: Any, netrc_file: Path, seen_auth: list[str | None]
) -> None:
    client = make_client(bud_url, api_key="k1")
    await client.pipelines.create(name="keyed", definition={"steps": [log_step("a")]})
    assert seen_auth == ["Bearer k1"]


def test_netrc_lookup(netrc_file: Path, tmp_path: Path) -> None:
    assert netrc_authorization("http://127.0.0.1:8000") == ALICE
    assert netrc_authorization("http://other.example") is None
    assert netrc_authorization("not a url") is None
    assert netrc_authorization("http://127.0.0.1", {"NETRC": str(tmp_path / "missing")}) is None
    bad = tmp_path / "bad"
    bad.write_text("machine\n")
    assert netrc_authorization("http://127.0.0.1", {"NETRC": str(bad)}) is None
