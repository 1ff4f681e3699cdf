"""SDK fixtures: an `AsyncBudClient` on the real server (`bud_server` from tests/conftest.py).

* `bud_client` - a client on `bud_url` with fast retries, closed after the test.
* `make_client` - more clients on any URL with option overrides, all closed after the test.
* `make_pipeline` - store a pipeline through the client, from a list of steps.
* `server_thread`, `sync_client`, `make_sync_client` - the server on its own thread and blocking
  `BudClient`s on it, for plain (non-async) tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sdk_support import FAST_RETRIES, ClientFactory, PipelineFactory, SyncClientFactory
from threaded_server import ServerThread

from budai_async import AsyncBudClient, BudClient, Pipeline
from budai_server.config import ServerConfig


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    made: list[AsyncBudClient] = []

    def make(base_url: str, **options: Any) -> AsyncBudClient:
        client = AsyncBudClient(base_url=base_url, **{**FAST_RETRIES, **options})
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def bud_client(make_client: ClientFactory, bud_url: str) -> AsyncBudClient:
    return make_client(bud_url)


@pytest.fixture
def make_pipeline(bud_client: AsyncBudClient) -> PipelineFactory:
    async def make(*steps: dict[str, Any], name: str = "test pipeline", **extra: Any) -> Pipeline:
        return await bud_client.pipelines.create(name=name, definition={"steps": list(steps), **extra})

    return make


# ---- the blocking client (tests are plain functions; the server runs on its own thread)


@pytest.fixture
def server_thread(server_config: ServerConfig) -> Iterator[ServerThread]:
    with ServerThread(server_config) as server:
        yield server


@pytest.fixture
def make_sync_client(server_thread: ServerThread) -> Iterator[SyncClientFactory]:
    made: list[BudClient] = []

    def make(**options: Any) -> BudClient:
        client = BudClient(base_url=server_thread.url, **{**FAST_RETRIES, **options})
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def sync_client(make_sync_client: SyncClientFactory) -> BudClient:
    return make_sync_client()
