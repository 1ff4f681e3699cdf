"""High fan-out: create thousands of executions from one client, bounded, idempotent, with progress.

`create_many` streams any iterable or async iterable of param sets into `POST .../execute/batch`
chunks (by count and by bytes), sends them from `concurrency` workers, gives every item an
idempotency key derived from the batch key and its index (so a retried chunk never duplicates an
execution), pauses every worker together after a 429 (one shared cooldown honouring Retry-After),
and returns an ordered `BatchResult`. `wait_all` and `as_completed` await many executions over one
status subscription (`budai_async.batch._watch`) instead of one poller each. Cancelling any of them
cancels its tasks and closes its sockets before the CancelledError reaches the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import AsyncIterable, Coroutine, Iterable, Mapping, Sequence, Sized
from typing import Any

from budai_async._requester import checked_idempotency_key
from budai_async.batch._awaiting import ClientLike, ExecutionStream, as_completed, client_of, wait_all
from budai_async.batch._chunking import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CHUNK_SIZE,
    Chunk,
    ChunkBuilder,
    chunk_stream,
    envelope_size,
)
from budai_async.batch._packed import pack_execution
from budai_async.batch._sender import Batch, Defaults, ProgressCallback, json_default
from budai_async.batch._watch import StatusWatch, WatchMethod, WatchOptions
from budai_async.batch.result import (
    BatchCounts,
    BatchEntry,
    BatchError,
    BatchItem,
    BatchProgress,
    BatchResult,
    ItemError,
)
from budai_async.errors import ValidationError

__all__ = [
    "BatchCounts",
    "BatchEntry",
    "BatchError",
    "BatchItem",
    "BatchProgress",
    "BatchResult",
    "ExecutionStream",
    "ItemError",
    "ParamSet",
    "WatchOptions",
    "as_completed",
    "create_many",
    "wait_all",
]

ParamSet = Mapping[str, Any] | BatchEntry


async def create_many(
    target: ClientLike,
    pipeline_id: str,
    param_sets: Iterable[ParamSet] | AsyncIterable[ParamSet],
    *,
    concurrency: int = 4,
    rate_limit: float | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    wait: bool = False,
    wait_timeout: float | None = None,
    fail_fast: bool = False,
    on_progress: ProgressCallback | None = None,
    tags: Sequence[str] | None = None,
    priority: str | None = None,
    callbacks: Mapping[str, str] | None = None,
    timeout_seconds: float | None = None,
    batch_key: str | None = None,
    max_retries: int = 8,
    watch_method: WatchMethod = "auto",
    watch_options: WatchOptions | None = None,
) -> BatchResult:
    """Create one execution per param set through the batch endpoint; results in input order.

    `param_sets` is any iterable or async iterable of params mappings (or `BatchEntry` for per-item
    tags, priority, callbacks, timeout or key); it is read as chunks fill, never loaded whole.
    `concurrency` bounds the requests in flight (and so the sockets); `rate_limit` bounds the
    executions submitted per second (a chunk then holds at most a tenth of a second's worth);
    `chunk_size` / `chunk_bytes` bound the items and bytes per request. Every item carries the
    idempotency key ``{batch_key}-{index}``: retries never duplicate, and running the same input
    again with the same `batch_key` replays instead of re-creating. A 429 pauses every worker for
    the server's Retry-After. With `wait=True` the executions are awaited over one status
    subscription while the rest is still being submitted; `wait_timeout` bounds the wait after the
    last item is submitted (items still running then keep their last state). `on_progress` (sync
    or async) gets a `BatchProgress` after each chunk and each ended execution. `fail_fast=True`
    stops sending at the first failed item and raises `BatchError` (created executions keep running).

    Items the server refuses are reported per item (`BatchItem.error`); call
    `result.raise_for_failures()` to turn any failure into a `BatchError`. Raises
    AuthenticationError, NotFoundError (unknown pipeline, or a server without the batch route) and
    ValidationError for bad options; cancelling the call cancels its workers and closes its sockets.
    """
    _check_options(concurrency, chunk_size, chunk_bytes, max_retries, wait, wait_timeout)
    if rate_limit is not None and not (math.isfinite(rate_limit) and rate_limit > 0):
        raise ValidationError(
            f"rate_limit must be a positive number of executions per second, got {rate_limit}"
        )
    client = client_of(target)
    if rate_limit is not None:
        # a chunk holds at most a tenth of a second's worth, so the pace is even at that grain
        chunk_size = max(1, min(chunk_size, math.ceil(rate_limit / 10)))
    defaults = Defaults(tags=tags, priority=priority, callbacks=callbacks, timeout_seconds=timeout_seconds)
    key = (
        f"batch_{uuid.uuid4().hex}" if batch_key is None else checked_idempotency_key(batch_key, "batch_key")
    )
    batch = Batch(
        client,
        pipeline_id,
        batch_key=key,
        defaults=defaults,
        concurrency=concurrency,
        rate_limit=rate_limit,
        max_retries=max_retries,
        fail_fast=fail_fast,
        on_progress=on_progress,
        total=len(param_sets) if isinstance(param_sets, Sized) else None,
    )
    builder = ChunkBuilder(chunk_size, chunk_bytes, envelope_size(batch.extra, json_default))
    async with contextlib.AsyncExitStack() as stack:
        if wait:
            batch.watch = await stack.enter_async_context(
                StatusWatch(client, method=watch_method, options=watch_options, structure=pack_execution)
            )
        await _run(batch, builder, param_sets, wait_timeout)
    result = batch.result()
    if batch.stopped.is_set():
        raise BatchError(result)
    return result


async def _run(
    batch: Batch,
    builder: ChunkBuilder,
    source: Iterable[Any] | AsyncIterable[Any],
    wait_timeout: float | None,
) -> None:
    """Submit everything; with a watch, await the executions beside the submission, then the rest."""
    watch = batch.watch
    if watch is None:
        await _submit(batch, builder, source)
        await _finish_progress(batch)
        return
    waiter = asyncio.create_task(
        _until(batch.await_executions(watch), batch.stopped), name="budai-batch-waiter"
    )
    try:
        await _submit(batch, builder, source)
        await _finish_progress(batch)
        watch.finish_adding()
        with contextlib.suppress(TimeoutError):  # the wait ends; pending items stay pending
            async with asyncio.timeout(wait_timeout):
                await waiter
    finally:
        await _cancel(waiter)


async def _finish_progress(batch: Batch) -> None:
    if batch.progress.total is None:
        batch.progress.total = len(batch.items)
    await batch.report()


async def _submit(batch: Batch, builder: ChunkBuilder, source: Iterable[Any] | AsyncIterable[Any]) -> None:
    """Feed chunks to `concurrency` workers through a small queue (back-pressure on the source).

    A fail-fast stop ends the feed; chunks already queued are then skipped (reported `not_submitted`)
    while requests already in flight finish, so no created execution goes unreported.
    """
    queue: asyncio.Queue[Chunk | None] = asyncio.Queue(maxsize=batch.concurrency)

    async def feed() -> None:
        async with contextlib.aclosing(chunk_stream(source, builder, batch.encode)) as chunks:
            async for chunk in chunks:
                if batch.stopped.is_set():
                    break
                await queue.put(chunk)
        for _ in range(batch.concurrency):
            await queue.put(None)

    async def work() -> None:
        while (chunk := await queue.get()) is not None:
            await batch.send(chunk)

    workers = [(f"budai-batch-worker-{n}", work()) for n in range(batch.concurrency)]
    await _all_or_nothing([("budai-batch-feed", feed()), *workers])


async def _all_or_nothing(coros: Sequence[tuple[str, Coroutine[Any, Any, None]]]) -> None:
    """Run coroutines as tasks until all end; the first error cancels the rest and is raised as is.

    (A TaskGroup would wrap it in an ExceptionGroup; callers of create_many expect NotFoundError.)
    Cancelling the caller cancels every task and waits for them, so none outlives the call.
    """
    tasks = [asyncio.create_task(coro, name=name) for name, coro in coros]
    try:
        pending: set[asyncio.Future[None]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                error = task.exception()
                if error is not None:
                    raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _until(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    """Run `work` until it ends, or until `stop` is set (then `work` is cancelled)."""
    task = asyncio.create_task(work, name="budai-batch-waiting")
    stopper = asyncio.create_task(stop.wait(), name="budai-batch-stopper")
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
    finally:
        await _cancel(task)
        await _cancel(stopper)


async def _cancel(task: asyncio.Future[Any]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _check_options(
    concurrency: int,
    chunk_size: int,
    chunk_bytes: int,
    max_retries: int,
    wait: bool,
    wait_timeout: float | None,
) -> None:
    if concurrency < 1:
        raise ValidationError(f"concurrency must be >= 1, got {concurrency}")
    if not 1 <= chunk_size <= 1000:
        raise ValidationError(f"chunk_size must be between 1 and 1000, got {chunk_size}")
    if chunk_bytes < 1024:
        raise ValidationError(f"chunk_bytes must be >= 1024, got {chunk_bytes}")
    if max_retries < 0:
        raise ValidationError(f"max_retries must be >= 0, got {max_retries}")
    if wait_timeout is not None and not wait:
        raise ValidationError("wait_timeout= is how long wait=True waits; pass wait=True too")
    if wait_timeout is not None and wait_timeout <= 0:
        raise ValidationError(f"wait_timeout must be > 0 seconds, got {wait_timeout}")
