"""Chunking by count and bytes: the pure builder from tables, the stream over sync and async sources."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from budai_async.batch._chunking import (
    MAX_CHUNK_ITEMS,
    Chunk,
    ChunkBuilder,
    EncodedItem,
    chunk_payload,
    chunk_stream,
    encode_json,
    envelope_size,
    item_key,
)

EMPTY = len(b'{"items":[]}')


def _item(index: int, size: int) -> EncodedItem:
    # a JSON string of exactly `size` bytes
    return EncodedItem(index=index, payload="x" * (size - 2), size=size)


def _sizes(chunks: list[Chunk]) -> list[list[int]]:
    return [chunk.indexes for chunk in chunks]


@pytest.mark.parametrize(
    ("max_items", "max_bytes", "sizes", "expected"),
    [
        # count only
        (2, 10_000, [5, 5, 5, 5, 5], [[0, 1], [2, 3], [4]]),
        (1, 10_000, [5, 5], [[0], [1]]),
        (3, 10_000, [5, 5, 5], [[0, 1, 2]]),
        # bytes: envelope 12 + 10 + comma + 10 = 33 fits in 33, the third does not
        (100, EMPTY + 21, [10, 10, 10], [[0, 1], [2]]),
        (100, EMPTY + 20, [10, 10, 10], [[0], [1], [2]]),
        # an oversized item goes alone, and does not drag its neighbours along
        (100, EMPTY + 30, [5, 500, 5], [[0], [1], [2]]),
        (100, EMPTY + 30, [500], [[0]]),
        # nothing in, nothing out
        (10, 1000, [], []),
    ],
)
def test_builder_cuts_by_count_and_bytes(
    max_items: int, max_bytes: int, sizes: list[int], expected: list[list[int]]
) -> None:
    builder = ChunkBuilder(max_items, max_bytes)
    chunks: list[Chunk] = []
    for index, size in enumerate(sizes):
        chunks.extend(builder.add(_item(index, size)))
    tail = builder.flush()
    if tail is not None:
        chunks.append(tail)
    assert _sizes(chunks) == expected
    for chunk in chunks:
        assert chunk.nbytes == len(encode_json(chunk_payload(chunk)))
        assert len(chunk.items) <= max_items
        assert chunk.nbytes <= max_bytes or len(chunk.items) == 1


def test_builder_counts_envelope_bytes() -> None:
    extra = {"defaults": {"tags": ["a", "é"]}}
    size = envelope_size(extra)
    builder = ChunkBuilder(100, EMPTY + size + 21, envelope_bytes=size)
    chunks = [c for i in range(3) for c in builder.add(_item(i, 10))]
    assert _sizes(chunks) == [[0, 1]]
    assert chunks[0].nbytes == len(encode_json(chunk_payload(chunks[0], extra)))
    assert envelope_size(None) == envelope_size({}) == 0


@pytest.mark.parametrize(("max_items", "max_bytes"), [(0, 100), (MAX_CHUNK_ITEMS + 1, 100), (10, 0)])
def test_builder_rejects_bad_limits(max_items: int, max_bytes: int) -> None:
    with pytest.raises(ValueError):
        ChunkBuilder(max_items, max_bytes)


def test_payload_keeps_items_in_order_and_sizes_match_the_wire() -> None:
    builder = ChunkBuilder(10, 10_000, envelope_bytes=envelope_size({"defaults": {"priority": "low"}}))
    for index in range(3):
        payload = {"params": {"n": index, "s": "é"}}
        builder.add(EncodedItem(index=index, payload=payload, size=len(encode_json(payload))))
    chunk = builder.flush()
    assert chunk is not None
    body = chunk_payload(chunk, {"defaults": {"priority": "low"}})
    assert body == {
        "defaults": {"priority": "low"},
        "items": [{"params": {"n": i, "s": "é"}} for i in range(3)],
    }
    # the client encodes bodies with json.dumps defaults (ASCII escapes): the size we counted is the size sent
    assert chunk.nbytes == len(json.dumps(body, separators=(",", ":")).encode())


@pytest.mark.parametrize("value", [float("nan"), {1, 2}, object()])
def test_encode_json_refuses_non_json(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        encode_json(value)


def test_item_keys_are_stable_and_distinct() -> None:
    assert item_key("b1", 7) == item_key("b1", 7)
    assert len({item_key("b1", i) for i in range(1000)} | {item_key("b2", 0)}) == 1001


def _encode(index: int, value: Any) -> EncodedItem | None:
    if value is None:
        return None
    return EncodedItem(index=index, payload=value, size=len(encode_json(value)))


async def _collect(source: Any, builder: ChunkBuilder, linger: float = 0.05) -> list[list[int]]:
    return [chunk.indexes async for chunk in chunk_stream(source, builder, _encode, linger=linger)]


async def test_stream_skips_rejected_items_keeping_indexes() -> None:
    chunks = await _collect([1, None, 3, 4, None, 6], ChunkBuilder(2, 10_000))
    assert chunks == [[0, 2], [3, 5]]


async def test_stream_reads_a_sync_generator_lazily() -> None:
    pulled = 0

    def source() -> Iterator[int]:
        nonlocal pulled
        for n in range(10_000):
            pulled += 1
            yield n

    stream = chunk_stream(source(), ChunkBuilder(100, 1_000_000), _encode)
    first = await anext(stream)
    assert first.indexes == list(range(100))
    assert pulled == 100  # the rest of the input was not read ahead
    await stream.aclose()


async def test_stream_over_async_source_matches_sync() -> None:
    async def source() -> AsyncIterator[int]:
        for n in range(25):
            yield n

    assert await _collect(source(), ChunkBuilder(10, 10_000)) == await _collect(
        range(25), ChunkBuilder(10, 10_000)
    )


async def test_slow_async_source_flushes_partial_chunk_after_linger() -> None:
    release = asyncio.Event()

    async def source() -> AsyncIterator[int]:
        yield 0
        yield 1
        await release.wait()
        yield 2

    stream = chunk_stream(source(), ChunkBuilder(100, 10_000), _encode, linger=0.01)
    first = await asyncio.wait_for(anext(stream), 2)
    assert first.indexes == [0, 1]
    release.set()
    assert [c.indexes async for c in stream] == [[2]]


async def test_closing_stream_cancels_pending_pull() -> None:
    cancelled = asyncio.Event()

    async def source() -> AsyncIterator[int]:
        yield 0
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        yield 1

    stream = chunk_stream(source(), ChunkBuilder(100, 10_000), _encode, linger=0.01)
    assert (await anext(stream)).indexes == [0]
    await stream.aclose()
    assert cancelled.is_set()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
