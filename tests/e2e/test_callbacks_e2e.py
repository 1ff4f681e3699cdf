"""End to end: the real server runs executions whose callbacks point at the real receiver app.

Pipelines are created and run through the SDK (`AsyncBudClient`); the server signs and delivers
through its outbox; the bundled `Receiver` verifies, stores and dispatches to `on_complete` /
`on_failure` handlers. Every execution must reach the right handler exactly once, with its status
and outputs - also when the receiver is down for a while, and when the server sends a callback again.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from budai_async import AsyncBudClient
from budai_async.models import Execution
from budai_server.config import ServerConfig
from receiver import CallbackEvent, Handlers, Receiver

SECRET = "whsec_ZTJlIHRlc3Qgc2VjcmV0IGZvciBjYWxsYmFja3MhIQ=="
#: Attempts every 50-300 ms for about 2.5 s: long enough to outlast a receiver restart in a test.
SCHEDULE = (0.0, 0.05, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5)

COMPLETING = {
    "steps": [
        {
            "id": "square",
            "action": "transform",
            "params": {"input": "{{ params.word }}", "operation": "uppercase"},
        },
    ],
    "outputs": {"word": "{{ steps.square.output.result }}", "n": "{{ params.n }}"},
}
FAILING = {"steps": [{"id": "boom", "action": "fail", "params": {"message": "broken on purpose"}}]}


class Seen:
    """Handlers that record every event they were given, per handler."""

    def __init__(self) -> None:
        self.handlers = Handlers()
        self.completed: list[CallbackEvent] = []
        self.failed: list[CallbackEvent] = []
        self._changed = asyncio.Event()

        @self.handlers.on_complete(name="completed")
        async def completed(event: CallbackEvent) -> None:
            self.completed.append(event)
            self._changed.set()

        @self.handlers.on_failure(name="failed")
        async def failed(event: CallbackEvent) -> None:
            self.failed.append(event)
            self._changed.set()

    async def wait_total(self, count: int, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while len(self.completed) + len(self.failed) < count:
                self._changed.clear()
                await self._changed.wait()


StartReceiver = Callable[[int | None], Awaitable[TestServer]]


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def start_receiver(aiohttp_server: Any, tmp_path: Path, seen: Seen) -> StartReceiver:
    """Serve a fresh `Receiver` (one SQLite store file per test) on `port` (None: a free one)."""

    async def start(port: int | None) -> TestServer:
        receiver = Receiver(
            SECRET,
            store=f"sqlite:///{tmp_path}/receiver.db",
            handlers=seen.handlers,
            poll_interval=0.05,
            retry_base_delay=0.01,
            shutdown_timeout=1.0,
        )
        server: TestServer = await aiohttp_server(receiver.create_app(), port=port)
        return server

    return start


@pytest.fixture
def start_server(make_bud_server: Any) -> Callable[[], Awaitable[TestServer]]:
    async def start() -> TestServer:
        server: TestServer = await make_bud_server(
            webhook_secret=SECRET, callback_retry_schedule=SCHEDULE, callback_jitter=0.0
        )
        return server

    return start


def _base(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def _deliveries(base: str, execution_id: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/budpipeline/executions/{execution_id}/callbacks") as response,
    ):
        assert response.status == 200
        items: list[dict[str, Any]] = (await response.json())["items"]
        return items


async def _wait_deliveries(
    base: str, ids: list[str], until: Callable[[dict[str, Any]], bool], within: float = 10.0
) -> dict[str, dict[str, Any]]:
    """Poll the server's callbacks API until every execution's one delivery satisfies `until`."""
    async with asyncio.timeout(within):
        while True:
            found = {execution_id: await _deliveries(base, execution_id) for execution_id in ids}
            if all(len(items) == 1 and until(items[0]) for items in found.values()):
                return {execution_id: items[0] for execution_id, items in found.items()}
            await asyncio.sleep(0.02)


async def _run_all(client: AsyncBudClient, url: str, words: list[str], failing: int) -> list[Execution]:
    """Run one completing execution per word and `failing` failing ones; all with callbacks to `url`."""
    callbacks = {"on_complete": url, "on_failure": url}
    good = await client.pipelines.create("e2e-ok", COMPLETING)
    bad = await client.pipelines.create("e2e-bad", FAILING)
    runs = [
        client.executions.create(
            good.id, params={"word": word, "n": n}, callbacks=callbacks, tags=["e2e"], wait=True, timeout=10
        )
        for n, word in enumerate(words)
    ]
    runs += [
        client.executions.create(bad.id, params={"n": n}, callbacks=callbacks, wait=True, timeout=10)
        for n in range(failing)
    ]
    return list(await asyncio.gather(*runs))


def _check_exactly_once(seen: Seen, executions: list[Execution]) -> None:
    """Each execution reached the handler for how it ended, once, with its status and outputs."""
    by_id = {execution.id: execution for execution in executions}
    completed = [event.execution_id for event in seen.completed]
    failed = [event.execution_id for event in seen.failed]
    assert sorted(completed) == sorted(e.id for e in executions if e.status == "completed")
    assert sorted(failed) == sorted(e.id for e in executions if e.status == "failed")
    for event in [*seen.completed, *seen.failed]:
        execution = by_id[event.execution_id]
        assert event.status == execution.status
        assert event.outputs == execution.outputs
        assert event.pipeline_id == execution.pipeline_id
        assert event.error == execution.error
    for event in seen.completed:
        assert event.type == "execution.completed"
        assert event.tags == ["e2e"]
        assert event.outputs == {"word": event.params["word"].upper(), "n": event.params["n"]}
    for event in seen.failed:
        assert event.type == "execution.failed"
        assert event.error and "broken on purpose" in event.error


async def test_each_execution_reaches_the_right_handler_once(
    start_server: Callable[[], Awaitable[TestServer]], start_receiver: StartReceiver, seen: Seen
) -> None:
    receiver = await start_receiver(None)
    url = str(receiver.make_url("/webhooks"))
    base = _base(await start_server())
    async with AsyncBudClient(base_url=base) as client:
        executions = await _run_all(client, url, ["ada", "grace", "edsger"], failing=2)
    assert sorted(str(e.status) for e in executions) == ["completed"] * 3 + ["failed"] * 2
    await seen.wait_total(5)
    deliveries = await _wait_deliveries(base, [e.id for e in executions], lambda d: d["status"] != "pending")
    for delivery in deliveries.values():
        assert delivery["status"] == "delivered"
        assert [a["status_code"] for a in delivery["attempts"]] == [202]  # stored as new, first time
    await asyncio.sleep(0.1)  # room for a stray duplicate dispatch to show up
    _check_exactly_once(seen, executions)


async def test_receiver_down_for_a_while_still_gets_every_callback(
    start_server: Callable[[], Awaitable[TestServer]], start_receiver: StartReceiver, seen: Seen
) -> None:
    receiver = await start_receiver(None)
    port = receiver.port
    assert port is not None
    url = str(receiver.make_url("/webhooks"))
    base = _base(await start_server())
    async with AsyncBudClient(base_url=base) as client:
        before = await _run_all(client, url, ["up"], failing=1)
        await seen.wait_total(2)

        await receiver.close()  # the port is closed: attempts now fail to connect
        during = await _run_all(client, url, ["down", "still down"], failing=1)
        refused = await _wait_deliveries(base, [e.id for e in during], lambda d: d["attempt_count"] >= 2)
        assert all(d["status"] == "pending" for d in refused.values())
        assert all(a["status_code"] is None for d in refused.values() for a in d["attempts"])
        assert len(seen.completed) + len(seen.failed) == 2

        await start_receiver(port)  # back, same port, same store
        await seen.wait_total(5)
        deliveries = await _wait_deliveries(base, [e.id for e in during], lambda d: d["status"] != "pending")
    assert all(d["status"] == "delivered" and d["last_status_code"] == 202 for d in deliveries.values())
    await asyncio.sleep(0.1)
    _check_exactly_once(seen, [*before, *during])


async def test_a_callback_sent_again_is_handled_once(
    start_server: Callable[[], Awaitable[TestServer]],
    start_receiver: StartReceiver,
    seen: Seen,
    server_config: ServerConfig,
) -> None:
    """A server restarted after losing its delivery rows sends again; the receiver dedupes by webhook-id."""
    receiver = await start_receiver(None)
    url = str(receiver.make_url("/webhooks"))
    server = await start_server()
    async with AsyncBudClient(base_url=_base(server)) as client:
        executions = await _run_all(client, url, ["once"], failing=0)
    await seen.wait_total(1)
    await _wait_deliveries(_base(server), [executions[0].id], lambda d: d["status"] == "delivered")
    await server.close()
    with sqlite3.connect(server_config.db_path) as conn:  # lose the outbox rows, as a crash could
        conn.execute("DELETE FROM callback_attempts")
        conn.execute("DELETE FROM callback_deliveries")
    conn.close()

    again = await start_server()  # sweeps the execution up and sends it again
    (delivery,) = (
        await _wait_deliveries(_base(again), [executions[0].id], lambda d: d["status"] == "delivered")
    ).values()
    assert delivery["last_status_code"] == 200  # the receiver's answer to a duplicate
    await asyncio.sleep(0.1)
    _check_exactly_once(seen, executions)
