"""The examples' server signs callbacks with a secret the examples know (for `receiver_app.py`)."""

from __future__ import annotations

import attrs
import pytest
from examples_support import EXAMPLES_WEBHOOK_SECRET

from budai_server.config import ServerConfig


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    return attrs.evolve(server_config, webhook_secret=EXAMPLES_WEBHOOK_SECRET)
