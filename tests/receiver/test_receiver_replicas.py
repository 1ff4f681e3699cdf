"""Several receiver processes on one Redis: deliveries with duplicates spread over two replicas are
dispatched exactly once, and a dead or stopping replica's work moves to the other."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from rx_support import PATH, REDIS_URL, ReceiverProcess, payload, recorded, signed, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.redis]


@pytest.fixture
def processes() -> Iterator[list[ReceiverProcess]]:
    started: list[ReceiverProcess] = []
    yield started
    for process in started:
        process.close()


def _start(
    tmp_path: Path,
    store_url: str,
    processes: list[ReceiverProcess],
    env: dict[str, str] | None = None,
    *args: str,
) -> ReceiverProcess:
    process = ReceiverProcess(tmp_path, store_url, env, *args)
    processes.append(process)
    return process


async def test_two_replicas_2000_deliveries_with_duplicates_exactly_once(
    tmp_path: Path, redis_prefix: str, processes: list[ReceiverProcess]
) -> None:
    store_url = f"{REDIS_URL}?prefix={redis_prefix}"
    replicas = [_start(tmp_path, store_url, processes), _start(tmp_path, store_url, processes)]
    unique = [f"{n:04d}" for n in range(1500)]
    rng = random.Random(7)
    deliveries = unique + rng.choices(unique, k=500)
    rng.shuffle(deliveries)
    limit = asyncio.Semaphore(64)

    async def deliver(session: aiohttp.ClientSession, key: str) -> int:
        body = payload(f"exec_{key}")
        url = rng.choice(replicas).url + PATH
        async with limit, session.post(url, data=body, headers=signed(body, f"msg_{key}")) as response:
            return response.status

    async with aiohttp.ClientSession() as session:
        for replica in replicas:
            await replica.ready(session)
        statuses = await asyncio.gather(*(deliver(session, key) for key in deliveries))
    assert Counter(statuses) == {202: 1500, 200: 500}
    records = tmp_path / "records"
    await wait_for(lambda: len(recorded(records)) >= 1500, within=20)
    await asyncio.sleep(0.3)  # a late duplicate dispatch would show up here
    counts = Counter(recorded(records))
    assert set(counts) == {f"exec_{key}" for key in unique}
    assert max(counts.values()) == 1
    assert len(list(records.glob("done-*"))) == 2  # both replicas did work


async def test_killed_replicas_events_move_to_the_survivor_after_the_lease(
    tmp_path: Path, redis_prefix: str, processes: list[ReceiverProcess]
) -> None:
    store_url = f"{REDIS_URL}?prefix={redis_prefix}&lease=2"
    doomed = _start(tmp_path, store_url, processes, {"RX_BLOCK": "1"}, "--workers", "2")
    survivor = _start(tmp_path, store_url, processes)
    async with aiohttp.ClientSession() as session:
        await doomed.ready(session)
        await survivor.ready(session)
        for n in range(6):
            body = payload(f"exec_d_{n}")
            async with session.post(
                doomed.url + PATH, data=body, headers=signed(body, f"msg_d_{n}")
            ) as response:
                assert response.status == 202
        await wait_for(lambda: len(recorded(tmp_path / "records", "started-")) == 2)
        await asyncio.sleep(2.5)  # past one lease: the doomed replica renews, the survivor must not take over
        assert recorded(tmp_path / "records") == []
        doomed.kill()
        await wait_for(lambda: len(recorded(tmp_path / "records")) == 6, within=10)
    assert sorted(recorded(tmp_path / "records")) == [f"exec_d_{n}" for n in range(6)]


async def test_stopping_replica_hands_its_work_over_at_once(
    tmp_path: Path, redis_prefix: str, processes: list[ReceiverProcess]
) -> None:
    store_url = f"{REDIS_URL}?prefix={redis_prefix}&lease=60"
    stopping = _start(tmp_path, store_url, processes, {"RX_BLOCK": "1"}, "--shutdown-timeout", "0.2")
    survivor = _start(tmp_path, store_url, processes)
    async with aiohttp.ClientSession() as session:
        await stopping.ready(session)
        await survivor.ready(session)
        for n in range(3):
            body = payload(f"exec_s_{n}")
            async with session.post(
                stopping.url + PATH, data=body, headers=signed(body, f"msg_s_{n}")
            ) as response:
                assert response.status == 202
        await wait_for(lambda: len(recorded(tmp_path / "records", "started-")) == 3)
    assert await asyncio.to_thread(stopping.terminate) == 0
    # released, not left to a 60 s lease: the survivor's next poll takes them
    await wait_for(lambda: len(recorded(tmp_path / "records")) == 3, within=5)
