"""Stores for the receiver: the interface, SQLite (default) and Redis (several replicas).

`open_store` turns a URL into a store; the Redis module is imported only when a ``redis://`` URL is
used, since redis is an optional extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from receiver.stores.base import DEFAULT_RETENTION_SECONDS, DeadLetter, Store, StoredEvent, StoreError
from receiver.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    from receiver.stores.redis import RedisStore

__all__ = [
    "DEFAULT_RETENTION_SECONDS",
    "DeadLetter",
    "RedisStore",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoredEvent",
    "store_from_url",
]


def __getattr__(name: str) -> object:
    if name == "RedisStore":
        from receiver.stores.redis import RedisStore

        return RedisStore
    raise AttributeError(name)


def _options(query: str, allowed: set[str]) -> dict[str, str]:
    options = {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"unknown store option(s): {', '.join(unknown)}")
    return options


def store_from_url(url: str) -> Store:
    """Build a store from ``sqlite:///path/to/file.db`` or ``redis://host:port/db``.

    SQLite options: ``?synchronous=normal|full&retention=SECONDS``. Redis options:
    ``?prefix=budai:receiver:&lease=SECONDS&retention=SECONDS`` (other query keys go to redis-py).
    A bare path is taken as a SQLite file. Raises ValueError for anything else.
    """
    parts = urlsplit(url)
    if parts.scheme == "" and not parts.netloc and parts.path:
        return SQLiteStore(parts.path)
    if parts.scheme == "sqlite":
        # SQLAlchemy's convention: sqlite:///relative.db and sqlite:////absolute/path.db
        path = url[len("sqlite://") :].split("?", 1)[0].removeprefix("/")
        if not path:
            raise ValueError("sqlite store URL needs a path: sqlite:///relative.db or sqlite:////abs.db")
        opts = _options(parts.query, {"synchronous", "retention"})
        return SQLiteStore(
            path,
            synchronous=opts.get("synchronous", "normal"),
            retention_seconds=float(opts.get("retention", DEFAULT_RETENTION_SECONDS)),
        )
    if parts.scheme in ("redis", "rediss", "unix"):
        from receiver.stores.redis import RedisStore

        raw = parse_qs(parts.query, keep_blank_values=True)
        ours = {key: raw.pop(key)[-1] for key in ("prefix", "lease", "retention") if key in raw}
        rest = urlencode(raw, doseq=True)
        return RedisStore(
            urlunsplit(parts._replace(query=rest)),
            prefix=ours.get("prefix", "budai:receiver:"),
            lease_seconds=float(ours.get("lease", 30.0)),
            retention_seconds=float(ours.get("retention", DEFAULT_RETENTION_SECONDS)),
        )
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///path or redis://host:port/db")
