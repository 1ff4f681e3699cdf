"""Fixtures for the receiver tests: the real app on a temporary SQLite file, and real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient
from rx_support import REDIS_URL, Serve

from receiver import Receiver


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/receiver.db"


@pytest.fixture
async def serve(aiohttp_client: Any) -> Serve:
    """Serve a Receiver's standalone app through pytest-aiohttp's test client."""

    async def start(receiver: Receiver) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = await aiohttp_client(receiver.create_app())
        return client

    return start


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A unique key prefix on the real Redis, deleted afterwards; skips (fails under CI) without Redis."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis not reachable at 127.0.0.1:6379: {exc}")
        pytest.skip(f"Redis not reachable at 127.0.0.1:6379: {exc}")
    prefix = f"budai-test:{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
