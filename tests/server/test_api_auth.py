"""With an API key every route but /health needs `Authorization: Bearer <key>`."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import LOG_DEFINITION

KEY = "s3cret-key"


@pytest.fixture
async def client(aiohttp_client: Any, make_bud_server: Any) -> Any:
    return await aiohttp_client(await make_bud_server(api_key=KEY))


async def test_health_needs_no_key(client: Any) -> None:
    assert (await client.get("/health")).status == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ready"),
        ("GET", "/metrics"),
        ("GET", "/budpipeline"),
        ("POST", "/budpipeline"),
        ("GET", "/budpipeline/executions"),
        ("GET", "/budpipeline/actions"),
        ("GET", "/budpipeline/executions/exec_x/logs"),
        ("GET", "/nowhere"),
    ],
)
@pytest.mark.parametrize(
    "header",
    [None, f"Bearer {KEY}x", f"Bearer {KEY[:-1]}", f"Basic {KEY}", KEY, "Bearer", "Bearer "],
)
async def test_missing_or_wrong_keys_are_401(client: Any, method: str, path: str, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await client.request(method, path, headers=headers, json={})
    assert response.status == 401
    body = await response.json()
    assert body["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["X-Request-ID"]


async def test_the_right_key_works(client: Any) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    response = await client.post(
        "/budpipeline", json={"name": "a", "definition": LOG_DEFINITION}, headers=headers
    )
    assert response.status == 201
    lower = await client.get("/budpipeline", headers={"Authorization": f"bearer {KEY}"})
    assert lower.status == 200
    assert (await lower.json())["total"] == 1


async def test_without_a_configured_key_nothing_is_required(api: Any) -> None:
    assert (await api.get("/budpipeline")).status == 200
