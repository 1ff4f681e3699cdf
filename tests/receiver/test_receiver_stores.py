"""Both stores behave alike: atomic claims, hand-over of pending events, dead letters, replay.
Redis-only: leases expire so a crashed replica's events move to another replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from rx_support import REDIS_URL

from receiver.stores import RedisStore, SQLiteStore, Store, store_from_url

StoreFactory = Callable[..., Store]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Build stores over one shared backend (one file, or one Redis prefix); closes them after."""
    made: list[Store] = []
    if request.param == "redis":
        prefix = request.getfixturevalue("redis_prefix")

        def factory(**options: float) -> Store:
            store = RedisStore(REDIS_URL, prefix=prefix, **options)
            made.append(store)
            return store

    else:

        def factory(**options: float) -> Store:
            store = SQLiteStore(
                tmp_path / "store.db", retention_seconds=options.get("retention_seconds", 3600.0)
            )
            made.append(store)
            return store

    yield factory
    for store in made:
        await store.close()


async def test_claim_is_atomic_under_concurrency(make_store: StoreFactory) -> None:
    first, second = make_store(), make_store()
    await first.open()
    await second.open()
    results = await asyncio.gather(
        *(store.claim("msg_x", b"{}", received_at=1.0) for _ in range(25) for store in (first, second))
    )
    assert sorted(results) == [False] * 49 + [True]
    assert await first.claim("msg_y", b"{}", received_at=1.0) is True
    assert await second.claim("msg_y", b"{}", received_at=1.0) is False
    assert await first.state("msg_x") == "pending"
    assert await first.state("msg_unknown") is None


async def test_released_event_goes_to_the_next_taker_with_its_done_handlers(make_store: StoreFactory) -> None:
    owner, other = make_store(), make_store()
    await owner.open()
    assert await owner.claim("msg_1", b'{"a": 1}', received_at=5.0)
    await owner.mark_handler_done("msg_1", "h1")
    await owner.release(["msg_1"])
    await other.open()
    [taken] = await other.acquire(limit=10)
    assert (taken.id, taken.body, taken.received_at, taken.done_handlers) == (
        "msg_1",
        b'{"a": 1}',
        5.0,
        frozenset({"h1"}),
    )
    assert await other.acquire(limit=10) == []  # it holds it now


@pytest.mark.redis
async def test_redis_replica_does_not_take_what_another_holds(redis_prefix: str) -> None:
    owner = RedisStore(REDIS_URL, prefix=redis_prefix)
    other = RedisStore(REDIS_URL, prefix=redis_prefix)
    await owner.open()
    await other.open()
    try:
        assert await owner.claim("msg_1", b"{}", received_at=5.0)
        assert await other.acquire(limit=10) == []
        await owner.release(["msg_1"])
        assert [e.id for e in await other.acquire(limit=10)] == ["msg_1"]
        assert await owner.acquire(limit=10) == []
    finally:
        await owner.close()
        await other.close()


async def test_a_new_run_takes_over_what_the_previous_run_held(tmp_path: Path) -> None:
    """SQLite: one serving process per file, so a restart takes every pending event."""
    crashed = SQLiteStore(tmp_path / "x.db")
    await crashed.open()
    for n in range(3):
        await crashed.claim(f"msg_{n}", b"{}", received_at=float(n))
    await crashed.close()
    restarted = SQLiteStore(tmp_path / "x.db")
    await restarted.open()
    assert [e.id for e in await restarted.acquire(limit=2)] == ["msg_0", "msg_1"]
    assert [e.id for e in await restarted.acquire(limit=10)] == ["msg_2"]
    assert await restarted.acquire(limit=10) == []
    await restarted.close()


async def test_finish_dead_letter_and_replay(make_store: StoreFactory) -> None:
    store, other = make_store(), make_store()
    await store.open()
    await other.open()
    for n in range(3):
        await store.claim(f"msg_{n}", b'{"n": %d}' % n, received_at=float(n))
    await store.mark_handler_done("msg_1", "good")
    await store.finish("msg_0", failures={}, at=10.0)
    await store.finish("msg_1", failures={"bad": "RuntimeError: x"}, at=11.0)
    await store.finish("msg_2", failures={"bad": "E"}, at=12.0)
    assert [await store.state(f"msg_{n}") for n in range(3)] == ["done", "dead", "dead"]
    letters = await other.dead_letters()
    assert [(d.id, d.failed_at, dict(d.failures), d.done_handlers) for d in letters] == [
        ("msg_1", 11.0, {"bad": "RuntimeError: x"}, frozenset({"good"})),
        ("msg_2", 12.0, {"bad": "E"}, frozenset()),
    ]
    assert [d.id for d in await other.dead_letters(limit=1)] == ["msg_1"]
    assert not await other.replay("msg_0")  # done, not dead
    assert not await other.replay("msg_missing")
    assert await other.replay("msg_1")
    assert await store.state("msg_1") == "pending"
    [again] = await other.acquire(limit=10)
    assert (again.id, again.done_handlers) == ("msg_1", frozenset({"good"}))
    assert [d.id for d in await store.dead_letters()] == ["msg_2"]
    assert not await store.claim("msg_1", b"{}", received_at=0.0)  # still a duplicate


async def test_finish_many_closes_done_and_dead_events_together(make_store: StoreFactory) -> None:
    store = make_store()
    await store.open()
    assert await store.claim_many([(f"msg_{n}", b"{}", float(n)) for n in range(4)]) == [True] * 4
    await store.finish_many(
        [("msg_0", {}, 10.0), ("msg_1", {"h": "E: one"}, 11.0), ("msg_2", {}, 12.0), ("msg_gone", {}, 13.0)]
    )
    await store.finish_many([])
    states = [await store.state(event_id) for event_id in ("msg_0", "msg_1", "msg_2", "msg_3", "msg_gone")]
    assert states == ["done", "dead", "done", "pending", None]
    assert [(d.id, d.failed_at, dict(d.failures)) for d in await store.dead_letters()] == [
        ("msg_1", 11.0, {"h": "E: one"})
    ]


async def test_sqlite_purge_forgets_only_old_finished_events(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "p.db") as store:
        for n, received in enumerate([1.0, 2.0, 100.0]):
            await store.claim(f"msg_{n}", b"{}", received_at=received)
            await store.finish(f"msg_{n}", failures={}, at=received)
        await store.claim("msg_dead", b"{}", received_at=1.0)
        await store.finish("msg_dead", failures={"h": "e"}, at=1.0)
        await store.claim("msg_open", b"{}", received_at=1.0)
        assert await store.purge(older_than=50.0) == 2
        assert [await store.state(i) for i in ("msg_0", "msg_1", "msg_2", "msg_dead", "msg_open")] == [
            None,
            None,
            "done",
            "dead",
            "pending",
        ]


@pytest.mark.redis
async def test_redis_lease_expires_and_renew_keeps_it(redis_prefix: str) -> None:
    holder = RedisStore(REDIS_URL, prefix=redis_prefix, lease_seconds=1.0)
    other = RedisStore(REDIS_URL, prefix=redis_prefix, lease_seconds=1.0)
    await holder.open()
    await other.open()
    try:
        await holder.claim("msg_kept", b"{}", received_at=0.0)
        await holder.claim("msg_lost", b"{}", received_at=0.0)
        for _ in range(6):  # 1.2 s: past the lease of the event nobody renews
            await asyncio.sleep(0.2)
            await holder.renew(["msg_kept"])
        [taken] = await other.acquire(limit=10)
        assert taken.id == "msg_lost"
        await holder.renew(["msg_kept"])
        assert await other.acquire(limit=10) == []
    finally:
        await holder.close()
        await other.close()


@pytest.mark.redis
async def test_redis_finished_events_expire_and_dead_ones_do_not(redis_prefix: str) -> None:
    store = RedisStore(REDIS_URL, prefix=redis_prefix, retention_seconds=0.2)
    await store.open()
    try:
        await store.claim("msg_done", b"{}", received_at=0.0)
        await store.claim("msg_dead", b"{}", received_at=0.0)
        await store.finish("msg_done", failures={}, at=1.0)
        await store.finish("msg_dead", failures={"h": "e"}, at=1.0)
        await asyncio.sleep(0.35)
        assert await store.state("msg_done") is None
        assert await store.state("msg_dead") == "dead"
        assert await store.claim("msg_done", b"{}", received_at=0.0)  # outside the window: new again
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "kind", "attrs"),
    [
        ("sqlite:///relative.db", SQLiteStore, {"path": "relative.db"}),
        ("sqlite:////abs/dir/x.db", SQLiteStore, {"path": "/abs/dir/x.db"}),
        ("sqlite:///x.db?synchronous=full", SQLiteStore, {"synchronous": "full"}),
        ("sqlite:///x.db?retention=60", SQLiteStore, {"retention_seconds": 60.0}),
        ("plain.db", SQLiteStore, {"path": "plain.db"}),
        (
            "redis://127.0.0.1:6379/2",
            RedisStore,
            {"url": "redis://127.0.0.1:6379/2", "prefix": "budai:receiver:"},
        ),
        ("redis://h:1/0?prefix=app:&lease=5", RedisStore, {"prefix": "app:", "lease_seconds": 5.0}),
        ("redis://h:1/0?lease=5&socket_timeout=3", RedisStore, {"url": "redis://h:1/0?socket_timeout=3"}),
    ],
)
def test_store_from_url(url: str, kind: type[Store], attrs: dict[str, object]) -> None:
    store = store_from_url(url)
    assert isinstance(store, kind)
    for name, value in attrs.items():
        assert getattr(store, name) == value


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "postgres://x/y",
        "sqlite:///x.db?bogus=1",
        "sqlite:///x.db?synchronous=maybe",
    ],
)
def test_store_from_url_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        store_from_url(url)


async def test_sqlite_checkpoints_the_wal_off_the_commit_path(tmp_path: Path) -> None:
    """Commits only append to the WAL (auto-checkpoints are off); the checkpointer copies it over."""
    path = tmp_path / "wal.db"
    async with SQLiteStore(path, checkpoint_interval=0.05) as store:
        size_before = path.stat().st_size
        await asyncio.gather(*(store.claim(f"msg_{n}", b"x" * 2000, received_at=0.0) for n in range(200)))
        deadline = asyncio.get_running_loop().time() + 5
        while path.stat().st_size <= size_before + 200 * 2000:
            assert asyncio.get_running_loop().time() < deadline, "the WAL was never checkpointed"
            await asyncio.sleep(0.05)
