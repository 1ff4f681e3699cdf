"""Fault injection (for client retry tests): 503s, 429s with Retry-After, dropped connections."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from api_support import LOG_DEFINITION

from budai_server.config import FaultConfig


async def client_for(aiohttp_client: Any, make_bud_server: Any, **faults: Any) -> Any:
    return await aiohttp_client(await make_bud_server(faults=FaultConfig(**faults)))


async def test_every_matching_request_gets_a_503(aiohttp_client: Any, make_bud_server: Any) -> None:
    client = await client_for(aiohttp_client, make_bud_server, error_503_rate=1.0)
    response = await client.get("/budpipeline")
    assert response.status == 503
    body = await response.json()
    assert (body["error"]["code"], body["error"]["details"]) == ("unavailable", {"injected": True})
    assert response.headers["X-Request-ID"]
    assert (await client.get("/health")).status == 200  # default routes: /budpipeline* only


async def test_429_carries_retry_after(aiohttp_client: Any, make_bud_server: Any) -> None:
    client = await client_for(aiohttp_client, make_bud_server, error_429_rate=1.0, retry_after_seconds=2.5)
    response = await client.post("/budpipeline/run", json={"pipeline_definition": LOG_DEFINITION})
    assert response.status == 429
    assert response.headers["Retry-After"] == "2.5"
    assert (await response.json())["error"]["code"] == "rate_limited"


async def test_a_dropped_connection_before_the_handler_changes_nothing(
    aiohttp_client: Any, make_bud_server: Any
) -> None:
    client = await client_for(
        aiohttp_client, make_bud_server, drop_rate=1.0, routes=("/budpipeline",), methods=("POST",)
    )
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.post("/budpipeline", json={"name": "x", "definition": LOG_DEFINITION})
    listed = await client.get("/budpipeline")
    assert (await listed.json())["total"] == 0


async def test_a_dropped_answer_after_the_handler_keeps_the_effect(
    aiohttp_client: Any, make_bud_server: Any
) -> None:
    client = await client_for(
        aiohttp_client, make_bud_server, drop_after_rate=1.0, routes=("/budpipeline",), methods=("POST",)
    )
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.post(
            "/budpipeline",
            json={"name": "x", "definition": LOG_DEFINITION},
            headers={"Idempotency-Key": "k1"},
        )
    listed = await client.get("/budpipeline")
    assert (await listed.json())["total"] == 1


async def test_rates_are_seeded_and_mixed(aiohttp_client: Any, make_bud_server: Any) -> None:
    async def statuses(seed: int) -> list[int]:
        client = await client_for(
            aiohttp_client, make_bud_server, error_503_rate=0.3, error_429_rate=0.3, seed=seed
        )
        return [(await client.get("/budpipeline")).status for _ in range(40)]

    first, second, other = await statuses(7), await statuses(7), await statuses(8)
    assert first == second
    assert first != other
    assert {200, 429, 503} <= set(first)


def test_rates_are_validated() -> None:
    with pytest.raises(ValueError):
        FaultConfig(error_503_rate=1.5)
    assert not FaultConfig().enabled
    assert FaultConfig(drop_rate=0.1).enabled
