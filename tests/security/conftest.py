"""Security suites run the real server under the production outbound policy (`--outbound strict`).

`sink` is a loopback HTTP listener that records every request it gets: a refused destination must
leave it empty.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from security_support import Sink, start_sink

from budai_server.config import ServerConfig


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    return attrs.evolve(server_config, outbound_mode="strict", callback_retry_schedule=(0.0,))


@pytest.fixture
async def sink(aiohttp_server: Any) -> Sink:
    return await start_sink(aiohttp_server)
