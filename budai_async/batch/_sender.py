"""One `create_many` call's state and its chunk sender: the retry, cooldown and split rules per request.

`Batch.send` posts one chunk until it is answered: a 429 trips the cooldown every worker honours,
5xx and lost connections are retried with jittered backoff, a 413 splits the chunk, and 401/403/404
end the batch. Answers are folded into per-item results in input order, one compact `ItemRow` per
item (its execution packed, see `budai_async.batch._packed`); only the ids still awaited are mapped
back to their items, and only while they are awaited. The task plumbing
(feeder, workers, waiter, cancellation) lives in `budai_async.batch._fanout`.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from budai_async._requester import json_default
from budai_async._retry import retry_after_of, retry_delay
from budai_async.batch._chunking import Chunk, EncodedItem, chunk_payload, encode_json, item_key
from budai_async.batch._pacing import Cooldown, RateLimiter
from budai_async.batch._packed import PackedExecution, pack_execution
from budai_async.batch._watch import StatusWatch
from budai_async.batch.result import (
    BatchEntry,
    BatchProgress,
    BatchResult,
    ItemError,
    ItemRow,
    ProgressTracker,
)
from budai_async.errors import (
    APIConnectionError,
    APIStatusError,
    BudError,
    ConflictError,
    RateLimitError,
    ValidationError,
)
from budai_async.models import Execution, ExecutionStatus

if TYPE_CHECKING:
    from budai_async._requester import Requester

__all__ = ["MAX_RATE_LIMIT_WAITS", "Batch", "BatchWatch", "Defaults", "ProgressCallback", "json_default"]

ProgressCallback = Callable[[BatchProgress], Any]
BatchWatch = StatusWatch[PackedExecution | Execution]
"""The status watch of `create_many`: it hands out executions packed (`pack_execution`)."""
_NOT_SUBMITTED = ItemError(code="not_submitted", message="the batch stopped before this item was sent")

MAX_RATE_LIMIT_WAITS = 30
"""Consecutive 429s one chunk sits through before its items are reported as rate-limited."""
_FATAL_STATUSES = frozenset({401, 403, 404})


@attrs.define
class Defaults:
    """Batch-wide options sent once per chunk as `defaults`."""

    tags: Sequence[str] | None = None
    priority: str | None = None
    callbacks: Mapping[str, str] | None = None
    timeout_seconds: float | None = None

    def envelope(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if self.tags is not None:
            if isinstance(self.tags, str):
                raise ValidationError("tags must be a list of strings, not one string")
            values["tags"] = list(self.tags)
        if self.priority is not None:
            values["priority"] = str(self.priority)
        if self.callbacks is not None:
            values["callbacks"] = dict(self.callbacks)
        if self.timeout_seconds is not None:
            values["timeout_seconds"] = self.timeout_seconds
        return {"defaults": values} if values else {}


def _payload(value: Any, key: str) -> dict[str, Any]:
    """The wire item for one input value; raises ValidationError for a value that is not a param set."""
    if isinstance(value, BatchEntry):
        payload: dict[str, Any] = {"params": dict(value.params)}
        payload["idempotency_key"] = value.idempotency_key or key
        if value.tags is not None:
            if isinstance(value.tags, str):
                raise ValidationError("tags must be a list of strings, not one string")
            payload["tags"] = list(value.tags)
        if value.priority is not None:
            payload["priority"] = str(value.priority)
        if value.callbacks is not None:
            payload["callbacks"] = dict(value.callbacks)
        if value.timeout_seconds is not None:
            payload["timeout_seconds"] = value.timeout_seconds
        return payload
    if isinstance(value, Mapping):
        return {"params": dict(value), "idempotency_key": key}
    raise ValidationError(f"a param set must be a mapping or a BatchEntry, not {type(value).__name__}")


class Batch:
    """State of one `create_many` call: the results so far, the pacing, the progress."""

    def __init__(
        self,
        client: Requester,
        pipeline_id: str,
        *,
        batch_key: str,
        defaults: Defaults,
        concurrency: int,
        rate_limit: float | None,
        max_retries: int,
        fail_fast: bool,
        on_progress: ProgressCallback | None,
        total: int | None,
    ) -> None:
        self.client = client
        from budai_async.resources._base import segment  # late: resources import this module's users

        self.path = f"/budpipeline/{segment(pipeline_id, 'pipeline_id')}/execute/batch"
        self.batch_key = batch_key
        self.extra = defaults.envelope()
        self.concurrency = concurrency
        self.cooldown = Cooldown()
        self.limiter = RateLimiter(rate_limit)
        self.max_retries = max_retries
        self.fail_fast = fail_fast
        self.on_progress = on_progress
        self.progress = ProgressTracker(total=total)
        self.items: list[ItemRow | None] = []
        # ids awaited over the watch -> their items; an id leaves when its final state arrives
        self.awaiting: dict[str, list[int]] = {}
        self.stopped = asyncio.Event()
        self.watch: BatchWatch | None = None
        self.rng = random.Random()

    # -- results -------------------------------------------------------------------------------

    def _put(self, index: int, row: ItemRow) -> None:
        if index >= len(self.items):
            self.items.extend([None] * (index + 1 - len(self.items)))
        self.items[index] = row

    def _row(
        self, item: EncodedItem, execution: PackedExecution | Execution | None, error: ItemError | None
    ) -> ItemRow:
        """The row of a sent item; its key is kept only when it is not the derived one."""
        key = _key_of(item)
        derived = key == item_key(self.batch_key, item.index)
        return ItemRow(execution=execution, error=error, key=None if derived else key)

    def encode(self, index: int, value: Any) -> EncodedItem | None:
        """Encode one input item; an item that cannot be sent is answered here, alone."""
        key = item_key(self.batch_key, index)
        try:
            payload = _payload(value, key)
            size = len(encode_json(payload, json_default))
        except (ValidationError, TypeError, ValueError) as error:
            field = f"items[{index}].params"
            self._put(index, ItemRow(error=ItemError(code="invalid_item", message=str(error), field=field)))
            self.progress.reject_locally()
            self._failed()
            return None
        return EncodedItem(index=index, payload=payload, size=size)

    def _failed(self) -> None:
        if self.fail_fast:
            self.stopped.set()

    async def report(self) -> None:
        if self.on_progress is None:
            return
        outcome = self.on_progress(self.progress.snapshot())
        if inspect.isawaitable(outcome):
            await outcome

    def result(self) -> BatchResult:
        rows = [row if row is not None else ItemRow(error=_NOT_SUBMITTED) for row in self.items]
        return BatchResult(rows, batch_key=self.batch_key)

    # -- sending -------------------------------------------------------------------------------

    async def send(self, chunk: Chunk) -> None:
        """Send one chunk until it is answered; split it on 413; raise on errors that end the batch."""
        if self.stopped.is_set():
            return
        await self.limiter.acquire(len(chunk.items))
        self.progress.submit(len(chunk.items))
        answer = await self._post(chunk)
        if isinstance(answer, _Split):
            self.progress.submit(-len(chunk.items))
            for half in answer.halves:
                await self.send(half)
            return
        if isinstance(answer, ItemError):
            for item in chunk.items:
                self._put(item.index, self._row(item, None, answer))
            self.progress.answered(created=0, rejected=len(chunk.items))
            self._failed()
            await self.report()
            return
        await self._record(chunk, answer)

    async def _post(self, chunk: Chunk) -> Any:
        """POST a chunk with the shared cooldown; the answer, a `_Split`, or the ItemError for all items."""
        body = chunk_payload(chunk, self.extra)
        failures = rate_limited = 0
        while True:
            await self.cooldown.wait()
            try:
                answer = await self.client.request("POST", self.path, json_body=body, max_retries=0)
            except RateLimitError as error:
                rate_limited += 1
                if rate_limited > MAX_RATE_LIMIT_WAITS:
                    return ItemError.from_api_error(error)
                self.cooldown.trip(error.retry_after)
                continue
            except ConflictError as error:  # 409: the same request is still being handled
                await asyncio.sleep(retry_after_of(error, now=datetime.now(UTC)) or 0.5)
                continue
            except APIStatusError as error:
                if error.status_code == 413 and len(chunk.items) > 1:
                    return _Split.of(chunk)
                if error.status_code in _FATAL_STATUSES:
                    from budai_async.resources._base import unsupported

                    raise unsupported(error, "executions.create_many") from error
                if error.status_code < 500 and error.status_code != 408:
                    return ItemError.from_api_error(error)
                failures += 1
                if failures > self.max_retries:
                    return ItemError.from_api_error(error)
                await self._backoff(failures, error)
                continue
            except APIConnectionError as error:
                failures += 1
                if failures > self.max_retries:
                    return ItemError.from_exception(error, code="connection_error")
                await self._backoff(failures, error)
                continue
            self.cooldown.reset()
            return answer

    async def _backoff(self, attempt: int, error: BudError) -> None:
        delay = retry_delay(
            attempt,
            policy=self.client.retry_policy,
            retry_after=retry_after_of(error, now=datetime.now(UTC)),
            draw=self.rng.random(),
        )
        await asyncio.sleep(delay)

    async def _record(self, chunk: Chunk, answer: Any) -> None:
        """Store the per-item answers of a chunk and subscribe to the new executions when waiting."""
        entries = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(entries, list) or len(entries) != len(chunk.items):
            raise BudError(f"unexpected answer to a batch of {len(chunk.items)} items from {self.path}")
        created: list[str] = []
        rejected = 0
        for item, entry in zip(chunk.items, entries, strict=True):
            if isinstance(entry, dict) and isinstance(entry.get("execution"), dict):
                execution = pack_execution(entry["execution"])
                self._put(item.index, self._row(item, execution, None))
                if self.watch is not None:
                    self.awaiting.setdefault(execution.id, []).append(item.index)
                created.append(execution.id)
            else:
                rejected += 1
                self._put(item.index, self._row(item, None, _entry_error(entry)))
        self.progress.answered(created=len(created), rejected=rejected)
        if rejected:
            self._failed()
        if self.watch is not None and created:
            await self.watch.add(created)
        await self.report()

    # -- waiting -------------------------------------------------------------------------------

    async def await_executions(self, watch: BatchWatch) -> None:
        """Fold each ended execution into the results until the watch has handed out every id."""
        while (execution := await watch.next()) is not None:
            for index in self.awaiting.pop(execution.id, ()):
                row = self.items[index]
                if row is not None:
                    row.execution = execution
            self.progress.ended(execution)
            if execution.status != ExecutionStatus.COMPLETED:
                self._failed()
            await self.report()


@attrs.frozen
class _Split:
    """The server refused a chunk as too large: send its halves instead."""

    halves: tuple[Chunk, Chunk]

    @classmethod
    def of(cls, chunk: Chunk) -> _Split:
        middle = len(chunk.items) // 2
        first, second = chunk.items[:middle], chunk.items[middle:]
        share = chunk.nbytes // 2
        return cls((Chunk(items=first, nbytes=share), Chunk(items=second, nbytes=chunk.nbytes - share)))


def _key_of(item: EncodedItem) -> str | None:
    key = item.payload.get("idempotency_key") if isinstance(item.payload, dict) else None
    return key if isinstance(key, str) else None


def _entry_error(entry: Any) -> ItemError:
    """The ItemError of one refused item from the batch answer."""
    if not isinstance(entry, dict) or not isinstance(entry.get("error"), dict):
        message = f"the server's answer for this item is not understood: {entry!r}"
        return ItemError(code="invalid_answer", message=message)
    error = entry["error"]
    return ItemError(
        code=str(error.get("code") or "error"),
        message=str(error.get("message") or ""),
        field=error.get("field"),
        status=entry.get("status") if isinstance(entry.get("status"), int) else None,
        details=error.get("details"),
    )
