"""Interop fixtures: the official BudAI SDK (`bud`, a test peer from ../shared/vendor) on the real server.

* `official` - a `bud.BudClient` or `bud.AsyncBudClient` on `bud_url` (parametrized: each test runs
  with both), called through one awaitable adapter: ``await official("pipelines.get", pid)``. The sync
  client runs in a worker thread so the server, on the test's loop, keeps serving.
* `ours` - our `AsyncBudClient` on the same server.

Without `bud` installed the official-SDK modules are not collected, except under ``CI=true``, where a
missing wheel fails the run: CI must install it (`make venv` does when ../shared/vendor has it).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import AsyncIterator

import pytest
from interop_support import Official

from budai_async import AsyncBudClient

HAVE_BUD = importlib.util.find_spec("bud") is not None
if not HAVE_BUD:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise RuntimeError(
            "CI=true but the official BudAI SDK (`bud`) is not installed: install "
            "../shared/vendor/bud_sdk-0.1.0-py3-none-any.whl (make venv does) so tests/interop runs"
        )
    collect_ignore_glob = ["test_official_*.py"]


@pytest.fixture(params=["sync", "async"])
async def official(
    request: pytest.FixtureRequest, bud_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Official]:
    import bud

    for name in list(os.environ):
        if name.startswith("BUD_"):
            monkeypatch.delenv(name)
    if request.param == "sync":
        client = bud.BudClient(api_key="test-key", base_url=bud_url, max_retries=0, timeout=30)
        yield Official(client, is_async=False)
        await asyncio.to_thread(client.close)
    else:
        aclient = bud.AsyncBudClient(api_key="test-key", base_url=bud_url, max_retries=0, timeout=30)
        yield Official(aclient, is_async=True)
        await aclient.close()


@pytest.fixture
async def ours(bud_url: str) -> AsyncIterator[AsyncBudClient]:
    client = AsyncBudClient(base_url=bud_url, max_retries=0)
    yield client
    await client.aclose()
