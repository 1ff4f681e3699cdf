"""Cut a stream of batch items into request-sized chunks, by count and by encoded bytes.

The arithmetic (`ChunkBuilder`) is pure and tested from tables; `chunk_stream` drives it from any
iterable or async iterable one item at a time, so a 10-million-line params file is never held whole.
Each item is JSON-encoded once, to learn its size (and refuse it alone when it is not JSON); the
chunk keeps the item's payload and `chunk_payload` assembles the request body from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any

import attrs

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_CHUNK_SIZE",
    "MAX_CHUNK_ITEMS",
    "Chunk",
    "ChunkBuilder",
    "EncodedItem",
    "chunk_payload",
    "chunk_stream",
    "encode_json",
    "envelope_size",
    "item_key",
]

MAX_CHUNK_ITEMS = 1000
"""The server's limit on items per batch request."""
DEFAULT_CHUNK_SIZE = 500
DEFAULT_CHUNK_BYTES = 512 * 1024
"""Half the local server's default 1 MiB body limit, leaving room for the envelope."""

_BODY_HEAD = b'{"items":['  # only their lengths matter: the envelope of every body
_BODY_TAIL = b"]}"


def encode_json(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact JSON bytes, encoded as the client encodes bodies (ASCII-escaped), so sizes match.

    NaN and infinities are refused (the server would reject the whole chunk for one such item).
    Raises TypeError/ValueError when the value is not JSON-serialisable.
    """
    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=default).encode()


def item_key(batch_key: str, index: int) -> str:
    """The idempotency key of item `index`: stable per batch and index, so a retried chunk never repeats."""
    return f"{batch_key}-{index}"


@attrs.frozen(kw_only=True)
class EncodedItem:
    """One item ready to send: its position in the input, its JSON payload and that payload's size."""

    index: int
    payload: Any
    size: int


@attrs.frozen(kw_only=True)
class Chunk:
    """Items sent in one request; `nbytes` is the encoded size of `chunk_payload(chunk, ...)`."""

    items: tuple[EncodedItem, ...]
    nbytes: int

    @property
    def indexes(self) -> list[int]:
        return [item.index for item in self.items]


def chunk_payload(chunk: Chunk, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request body of a chunk: `extra` members (e.g. `defaults`) first, then `items`."""
    return {**(extra or {}), "items": [item.payload for item in chunk.items]}


def envelope_size(extra: dict[str, Any] | None, default: Callable[[Any], Any] | None = None) -> int:
    """Bytes the `extra` members add to every chunk body (`"defaults":{...},`)."""
    if not extra:
        return 0
    return len(encode_json(extra, default)) - 2 + 1  # without its braces, plus the comma before items


class ChunkBuilder:
    """Accumulate encoded items and say when a chunk is full, by item count and by body bytes.

    `add` returns the chunks that became ready (zero, one or two: the previous chunk when the new item
    does not fit, and the new item's own chunk when it fills it alone). An item bigger than `max_bytes`
    still goes out, alone, so the server answers for it instead of the client dropping it silently.
    """

    def __init__(self, max_items: int, max_bytes: int, envelope_bytes: int = 0) -> None:
        if not 1 <= max_items <= MAX_CHUNK_ITEMS:
            raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_ITEMS}, got {max_items}")
        if max_bytes < 1:
            raise ValueError(f"chunk_bytes must be >= 1, got {max_bytes}")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._empty_size = len(_BODY_HEAD) + len(_BODY_TAIL) + envelope_bytes
        self._items: list[EncodedItem] = []
        self._size = self._empty_size

    @property
    def pending(self) -> int:
        """Items held, not yet handed out in a chunk."""
        return len(self._items)

    def add(self, item: EncodedItem) -> list[Chunk]:
        ready: list[Chunk] = []
        grown = self._size + item.size + (1 if self._items else 0)
        if self._items and grown > self.max_bytes:
            ready.append(self._take())
            grown = self._size + item.size
        self._items.append(item)
        self._size = grown
        if len(self._items) >= self.max_items or self._size >= self.max_bytes:
            ready.append(self._take())
        return ready

    def flush(self) -> Chunk | None:
        """The partial chunk held so far (at the end of the input, or when input stalls)."""
        return self._take() if self._items else None

    def _take(self) -> Chunk:
        chunk = Chunk(items=tuple(self._items), nbytes=self._size)
        self._items = []
        self._size = self._empty_size
        return chunk


async def chunk_stream(
    source: Iterable[Any] | AsyncIterable[Any],
    builder: ChunkBuilder,
    encode: Callable[[int, Any], EncodedItem | None],
    *,
    linger: float = 0.05,
) -> AsyncGenerator[Chunk, None]:
    """Yield chunks from `source` as they fill; `encode` returns None for an item it rejected.

    A slow async source does not hold a partial chunk hostage: after `linger` seconds without a new
    item the partial chunk is sent. Sync iterables are read without tasks; the generator yields to
    the loop between chunks so a long sync source never starves the workers.
    """
    if isinstance(source, AsyncIterable):
        chunks = _chunk_async(source, builder, encode, linger)
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()
    else:
        for index, value in enumerate(source):
            item = encode(index, value)
            if item is None:
                continue
            for chunk in builder.add(item):
                yield chunk
            if index % 256 == 255:
                await asyncio.sleep(0)
    tail = builder.flush()
    if tail is not None:
        yield tail


async def _pull(iterator: AsyncIterator[Any]) -> Any:
    return await anext(iterator)


async def _chunk_async(
    source: AsyncIterable[Any],
    builder: ChunkBuilder,
    encode: Callable[[int, Any], EncodedItem | None],
    linger: float,
) -> AsyncGenerator[Chunk, None]:
    iterator = aiter(source)
    index = 0
    pull: asyncio.Future[Any] | None = None
    try:
        while True:
            if pull is None:
                pull = asyncio.create_task(_pull(iterator), name="budai-batch-source")
            if builder.pending:
                done, _ = await asyncio.wait({pull}, timeout=linger)
                if not done:
                    tail = builder.flush()
                    if tail is not None:
                        yield tail
                    continue
            else:
                await asyncio.wait({pull})
            try:
                value = pull.result()
            except StopAsyncIteration:
                pull = None
                return
            pull = None
            item = encode(index, value)
            index += 1
            if item is not None:
                for chunk in builder.add(item):
                    yield chunk
    finally:
        if pull is not None and not pull.done():
            pull.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pull
