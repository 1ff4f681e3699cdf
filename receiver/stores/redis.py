"""Redis store: several receiver replicas share deduplication and work, with leases.

Keys (all under `prefix`, default ``budai:receiver:``):

- ``ev:<id>``   hash ``body, received_at, state, owner, failures, finished_at``; created by the claim
  with a TTL (the deduplication window, 7 days by default); a dead-lettered event never expires.
- ``done:<id>`` set of handler names that succeeded.
- ``queue``     sorted set of unfinished ids scored by lease deadline (ms, Redis clock). The claimer
  holds the lease; a replica renews the leases of what it holds; an id whose deadline passed
  (its replica crashed) is taken by whichever replica calls `acquire` next. Score 0 = free now.
- ``dead``      sorted set of dead-lettered ids scored by failure time.

Every multi-key step is one Lua script, so it is atomic, and the scripts read the Redis server's
clock, so replicas' clocks need not agree. Standalone Redis only (the scripts build key names).
The receiver's hot path is two round trips per loop tick, not per event: the claims of a tick are
one call of the claim script (`claim_many`) and the dispatcher's finishes of a tick one call of the
finish script (`finish_many`); each script loops over its batch. Scripts run by EVALSHA (loaded
again only if Redis answers NOSCRIPT), never in a pipeline, whose execute would first ask Redis
whether the scripts exist: one more round trip per batch.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from receiver.stores.base import (
    DEFAULT_RETENTION_SECONDS,
    Claim,
    DeadLetter,
    Finish,
    Store,
    StoredEvent,
    StoreError,
)

__all__ = ["RedisStore"]

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

# KEYS: queue, then ev per claim. ARGV: owner, ttl_ms, lease_ms, then id, body, received_at per claim.
# Answers 1 (new) or 0 (seen before, or earlier in this batch) per claim, in order.
_CLAIM = (
    _NOW
    + """
local deadline = now + tonumber(ARGV[3])
local out = {}
for i = 2, #KEYS do
  local a = 3 * i - 2
  if redis.call('EXISTS', KEYS[i]) == 1 then
    out[i - 1] = 0
  else
    redis.call('HSET', KEYS[i], 'body', ARGV[a + 1], 'received_at', ARGV[a + 2], 'state', 'pending',
      'owner', ARGV[1])
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    redis.call('ZADD', KEYS[1], deadline, ARGV[a])
    out[i - 1] = 1
  end
end
return out
"""
)

# KEYS: queue. ARGV: owner, lease_ms, limit, prefix
_ACQUIRE = (
    _NOW
    + """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[4] .. 'ev:' .. id
  local f = redis.call('HMGET', key, 'state', 'body', 'received_at')
  if f[1] == 'pending' then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    redis.call('HSET', key, 'owner', ARGV[1])
    table.insert(out, {id, f[2], f[3], redis.call('SMEMBERS', ARGV[4] .. 'done:' .. id)})
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""
)

# KEYS: queue. ARGV: owner, lease_ms, prefix, ids...
_RENEW = (
    _NOW
    + """
local lost = 0
for i = 4, #ARGV do
  if redis.call('HGET', ARGV[3] .. 'ev:' .. ARGV[i], 'owner') == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[i])
  else
    lost = lost + 1
  end
end
return lost
"""
)

# KEYS: queue, dead, then ev, done per event. ARGV: ttl_ms, then id, state, failures, finished_at
# per event. An event whose key is gone (expired) is skipped.
_FINISH = """
for i = 3, #KEYS, 2 do
  local ev, done, a = KEYS[i], KEYS[i + 1], 2 * i - 4
  local id, state, at = ARGV[a], ARGV[a + 1], ARGV[a + 3]
  if redis.call('EXISTS', ev) == 1 then
    redis.call('HSET', ev, 'state', state, 'failures', ARGV[a + 2], 'finished_at', at)
    redis.call('HDEL', ev, 'owner')
    redis.call('ZREM', KEYS[1], id)
    if state == 'dead' then
      redis.call('ZADD', KEYS[2], at, id)
      redis.call('PERSIST', ev)
      redis.call('PERSIST', done)
    else
      redis.call('PEXPIRE', ev, ARGV[1])
      if redis.call('EXISTS', done) == 1 then redis.call('PEXPIRE', done, ARGV[1]) end
    end
  end
end
return 1
"""

# KEYS: queue. ARGV: owner, prefix, ids...
_RELEASE = """
for i = 3, #ARGV do
  local key = ARGV[2] .. 'ev:' .. ARGV[i]
  local f = redis.call('HMGET', key, 'owner', 'state')
  if f[1] == ARGV[1] and f[2] == 'pending' then
    redis.call('HDEL', key, 'owner')
    redis.call('ZADD', KEYS[1], 'XX', 0, ARGV[i])
  end
end
return 1
"""

# KEYS: ev, queue, dead. ARGV: id
_REPLAY = """
if redis.call('HGET', KEYS[1], 'state') ~= 'dead' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'pending')
redis.call('HDEL', KEYS[1], 'owner', 'failures', 'finished_at')
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
"""


class RedisStore(Store):
    """Store for several replicas on one Redis; see the module docstring for the key layout."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "budai:receiver:",
        lease_seconds: float = 30.0,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.url = url
        self.prefix = prefix
        self.lease_seconds = lease_seconds
        self._lease = lease_seconds
        self.retention_seconds = retention_seconds
        self._redis: aioredis.Redis | None = None
        self._scripts: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, prefix={self.prefix!r})"

    @property
    def _lease_ms(self) -> int:
        return max(1, int(self._lease * 1000))

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.retention_seconds * 1000))

    def _key(self, kind: str, event_id: str = "") -> str:
        return f"{self.prefix}{kind}:{event_id}" if event_id else f"{self.prefix}{kind}"

    async def open(self) -> None:
        """Connect, check the server answers, and register the scripts."""
        await super().open()
        client = aioredis.Redis.from_url(self.url)
        try:
            await client.ping()
        except RedisError as exc:
            await client.aclose()
            raise StoreError(f"cannot reach Redis at {self.url}: {exc}") from exc
        self._redis = client
        scripts = {
            "claim": _CLAIM,
            "acquire": _ACQUIRE,
            "renew": _RENEW,
            "finish": _FINISH,
            "release": _RELEASE,
            "replay": _REPLAY,
        }
        self._scripts = {name: client.register_script(lua) for name, lua in scripts.items()}

    async def close(self) -> None:
        if self._redis is not None:
            client, self._redis = self._redis, None
            await client.aclose()

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            raise StoreError("store is not open")
        return self._redis

    async def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        self._client()
        try:
            return await self._scripts[name](keys=keys, args=args)
        except RedisError as exc:
            raise StoreError(f"Redis {name} failed: {exc}") from exc

    async def claim(self, event_id: str, body: bytes, *, received_at: float) -> bool:
        return (await self.claim_many([(event_id, body, received_at)]))[0]

    async def claim_many(self, claims: Sequence[Claim]) -> list[bool]:
        """Claim the batch in one call of the claim script: one round trip, atomic as a whole.

        A repeated id in the batch finds the key its first claim created, so it answers False.
        """
        if not claims:
            return []
        keys = [self._key("queue")]
        args: list[Any] = [self.owner, self._ttl_ms, self._lease_ms]
        ev = self.prefix + "ev:"
        for event_id, body, received_at in claims:
            keys.append(ev + event_id)
            args += (event_id, body, repr(received_at))
        answers = await self._run("claim", keys, args)
        return [bool(answer) for answer in answers]

    async def acquire(self, *, limit: int) -> list[StoredEvent]:
        rows = await self._run(
            "acquire", [self._key("queue")], [self.owner, self._lease_ms, limit, self.prefix]
        )
        return [
            StoredEvent(
                id=_text(row[0]),
                body=bytes(row[1]),
                received_at=float(row[2]),
                done_handlers=frozenset(_text(h) for h in row[3]),
            )
            for row in rows
        ]

    async def renew(self, event_ids: Collection[str]) -> None:
        if event_ids:
            await self._run(
                "renew", [self._key("queue")], [self.owner, self._lease_ms, self.prefix, *event_ids]
            )

    async def mark_handler_done(self, event_id: str, handler: str) -> None:
        key = self._key("done", event_id)
        try:
            async with self._client().pipeline(transaction=True) as pipe:
                pipe.sadd(key, handler)
                pipe.pexpire(key, self._ttl_ms)
                await pipe.execute()
        except RedisError as exc:
            raise StoreError(f"Redis mark_handler_done failed: {exc}") from exc

    async def finish(self, event_id: str, *, failures: Mapping[str, str], at: float) -> None:
        await self.finish_many([(event_id, failures, at)])

    async def finish_many(self, finished: Sequence[Finish]) -> None:
        """Close the batch in one call of the finish script: one round trip."""
        if not finished:
            return
        keys = [self._key("queue"), self._key("dead")]
        args: list[Any] = [self._ttl_ms]
        ev, done = self.prefix + "ev:", self.prefix + "done:"
        for event_id, failures, at in finished:
            keys += (ev + event_id, done + event_id)
            if failures:
                args += (event_id, "dead", json.dumps(dict(failures)), repr(at))
            else:
                args += (event_id, "done", "{}", repr(at))
        await self._run("finish", keys, args)

    async def release(self, event_ids: Collection[str]) -> None:
        if event_ids:
            await self._run("release", [self._key("queue")], [self.owner, self.prefix, *event_ids])

    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        client = self._client()
        try:
            raw = await client.zrange(self._key("dead"), 0, max(0, limit - 1))
            ids = [_text(i) for i in raw if isinstance(i, bytes | str)]
            async with client.pipeline(transaction=False) as pipe:
                for event_id in ids:
                    pipe.hmget(self._key("ev", event_id), ["body", "received_at", "finished_at", "failures"])
                    pipe.smembers(self._key("done", event_id))
                replies = await pipe.execute()
        except RedisError as exc:
            raise StoreError(f"Redis dead_letters failed: {exc}") from exc
        letters = []
        for index, event_id in enumerate(ids):
            body, received_at, finished_at, failures = replies[2 * index]
            if body is None:
                continue
            letters.append(
                DeadLetter(
                    id=event_id,
                    body=bytes(body),
                    received_at=float(received_at or 0),
                    failed_at=float(finished_at or 0),
                    failures=json.loads(failures or b"{}"),
                    done_handlers=frozenset(_text(h) for h in replies[2 * index + 1]),
                )
            )
        return letters

    async def replay(self, event_id: str) -> bool:
        keys = [self._key("ev", event_id), self._key("queue"), self._key("dead")]
        return bool(await self._run("replay", keys, [event_id]))

    async def state(self, event_id: str) -> str | None:
        try:
            value = await self._client().hget(self._key("ev", event_id), "state")
        except RedisError as exc:
            raise StoreError(f"Redis state failed: {exc}") from exc
        return _text(value) if value is not None else None

    async def purge(self, *, older_than: float) -> int:
        """Nothing to do: finished events expire by TTL."""
        del older_than
        return 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
