"""The receiver as a process (``python -m receiver``): SIGKILL after acknowledging and before
dispatching loses nothing, and SIGTERM drains in-flight work before exiting."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from rx_support import PATH, ReceiverProcess, payload, recorded, signed, wait_for

from receiver import SQLiteStore

pytestmark = pytest.mark.slow


@pytest.fixture
def processes() -> Iterator[list[ReceiverProcess]]:
    started: list[ReceiverProcess] = []
    yield started
    for process in started:
        process.close()


async def _deliver(session: aiohttp.ClientSession, url: str, count: int, tag: str) -> list[int]:
    statuses = []
    for n in range(count):
        body = payload(f"exec_{tag}_{n}")
        async with session.post(url + PATH, data=body, headers=signed(body, f"msg_{tag}_{n}")) as response:
            statuses.append(response.status)
    return statuses


async def test_sigkill_after_ack_before_dispatch_loses_nothing(
    tmp_path: Path, processes: list[ReceiverProcess]
) -> None:
    store_url = f"sqlite:///{tmp_path}/rx.db"
    records = tmp_path / "records"
    async with aiohttp.ClientSession() as session:
        first = ReceiverProcess(tmp_path, store_url, {"RX_BLOCK": "1"}, "--workers", "2")
        processes.append(first)
        await first.ready(session)
        assert await _deliver(session, first.url, 10, "k") == [202] * 10
        await wait_for(lambda: len(recorded(records, "started-")) == 2)  # 2 handlers stuck, 8 queued
        first.kill()
        assert recorded(records) == []

        second = ReceiverProcess(tmp_path, store_url)
        processes.append(second)
        await second.ready(session)
        await wait_for(lambda: len(recorded(records)) == 10, within=10)
        assert sorted(recorded(records)) == sorted(f"exec_k_{n}" for n in range(10))
        # the acknowledged ids are still known: a retry from the sender is a duplicate
        body = payload("exec_k_0")
        async with session.post(second.url + PATH, data=body, headers=signed(body, "msg_k_0")) as response:
            assert response.status == 200
    async with SQLiteStore(tmp_path / "rx.db") as store:
        await wait_for(lambda: _all_done(store, [f"msg_k_{n}" for n in range(10)]))


async def _all_done(store: SQLiteStore, ids: list[str]) -> bool:
    return all([await store.state(i) == "done" for i in ids])


async def test_sigterm_finishes_in_flight_work_then_exits(
    tmp_path: Path, processes: list[ReceiverProcess]
) -> None:
    store_url = f"sqlite:///{tmp_path}/rx.db"
    process = ReceiverProcess(tmp_path, store_url, {"RX_DELAY": "0.5"})
    processes.append(process)
    async with aiohttp.ClientSession() as session:
        await process.ready(session)
        assert await _deliver(session, process.url, 5, "t") == [202] * 5
    assert await asyncio.to_thread(process.terminate) == 0
    assert sorted(recorded(tmp_path / "records")) == sorted(f"exec_t_{n}" for n in range(5))
    async with SQLiteStore(tmp_path / "rx.db") as store:
        assert await _all_done(store, [f"msg_t_{n}" for n in range(5)])


async def test_sigterm_past_the_grace_period_returns_work_to_the_store(
    tmp_path: Path, processes: list[ReceiverProcess]
) -> None:
    store_url = f"sqlite:///{tmp_path}/rx.db"
    process = ReceiverProcess(tmp_path, store_url, {"RX_BLOCK": "1"}, "--shutdown-timeout", "0.2")
    processes.append(process)
    async with aiohttp.ClientSession() as session:
        await process.ready(session)
        assert await _deliver(session, process.url, 3, "g") == [202] * 3
        await wait_for(lambda: len(recorded(tmp_path / "records", "started-")) == 3)
    assert await asyncio.to_thread(process.terminate) == 0
    async with SQLiteStore(tmp_path / "rx.db") as store:
        assert [await store.state(f"msg_g_{n}") for n in range(3)] == ["pending"] * 3
    assert recorded(tmp_path / "records") == []
