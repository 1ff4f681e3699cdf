"""What a batch returns and reports: per-item results in input order, counts, progress snapshots.

Everything here is plain data and arithmetic (no I/O), so the orchestration in `batch.py` stays a thin
driver and these rules are tested from tables. `create_many` keeps each item as a compact `ItemRow`
(its execution packed, its idempotency key only when it is not the derived one); `BatchResult` hands
out the documented `BatchItem` built from a row when it is read, and counts from the rows' statuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

import attrs

from budai_async.batch._chunking import item_key
from budai_async.batch._packed import PackedExecution
from budai_async.errors import APIStatusError, BudError
from budai_async.models import Execution, ExecutionStatus

__all__ = [
    "BatchCounts",
    "BatchEntry",
    "BatchError",
    "BatchItem",
    "BatchProgress",
    "BatchResult",
    "ItemError",
    "ItemRow",
    "ProgressTracker",
]


@attrs.frozen(kw_only=True)
class BatchEntry:
    """One input item with its own options; a plain mapping in `param_sets` means params only.

    Fields left None take the batch-wide value given to `create_many`.
    """

    params: Mapping[str, Any] = attrs.field(factory=dict)
    tags: Sequence[str] | None = None
    priority: str | None = None
    callbacks: Mapping[str, str] | None = None
    timeout_seconds: float | None = None
    idempotency_key: str | None = None


@attrs.frozen(kw_only=True)
class ItemError:
    """Why one item has no execution: the server's per-item error, or a local one.

    `field` names the faulty field (``items[3].priority``) when the server or the encoder knows it;
    `status` is the HTTP status that applied to the item (None for local errors).
    """

    code: str
    message: str
    field: str | None = None
    status: int | None = None
    details: Any = None

    @classmethod
    def from_api_error(cls, error: APIStatusError) -> ItemError:
        """The item-level view of an error that failed a whole chunk."""
        return cls(
            code=error.code or f"http_{error.status_code}",
            message=str(error),
            status=error.status_code,
            details=error.details,
        )

    @classmethod
    def from_exception(cls, error: BaseException, code: str = "request_failed") -> ItemError:
        return cls(code=code, message=str(error) or type(error).__name__)

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"{self.code}: {self.message}{where}"


@attrs.frozen(kw_only=True)
class BatchItem:
    """The result of one input item: its execution (created or replayed) or its error."""

    index: int
    idempotency_key: str | None = None
    execution: Execution | None = None
    error: ItemError | None = None

    @property
    def created(self) -> bool:
        """The server holds an execution for this item."""
        return self.execution is not None

    @property
    def ok(self) -> bool:
        """Created and not ended badly (pending/running/completed all count as ok)."""
        return _ok(_status(self))


class ItemRow:
    """One item as `create_many` holds it; `BatchResult` turns it into a `BatchItem` when read.

    `execution` is usually packed; `key` is None when the item's idempotency key is the derived
    ``{batch_key}-{index}`` (the row does not know its index: its place in the result is its index).
    """

    __slots__ = ("error", "execution", "key")

    def __init__(
        self,
        execution: PackedExecution | Execution | None = None,
        error: ItemError | None = None,
        key: str | None = None,
    ) -> None:
        self.execution = execution
        self.error = error
        self.key = key

    def item(self, index: int, batch_key: str | None) -> BatchItem:
        execution = _unpacked(self.execution)
        key = self.key
        if key is None and batch_key is not None:
            key = item_key(batch_key, index)
        return BatchItem(index=index, idempotency_key=key, execution=execution, error=self.error)


def _unpacked(execution: PackedExecution | Execution | None) -> Execution | None:
    """The execution a row holds, built from its packed form when it is packed."""
    return execution.unpack() if isinstance(execution, PackedExecution) else execution


def _status(entry: BatchItem | ItemRow) -> ExecutionStatus | None:
    """The item's execution status; None when it has no execution."""
    execution = entry.execution
    return None if execution is None else execution.status


def _ok(status: ExecutionStatus | None) -> bool:
    return status is not None and (not status.is_terminal or status == ExecutionStatus.COMPLETED)


@attrs.frozen(kw_only=True)
class BatchCounts:
    """Tallies of a batch; `pending` counts created executions that have not ended."""

    total: int = 0
    created: int = 0
    errors: int = 0
    completed: int = 0
    failed: int = 0
    pending: int = 0

    @classmethod
    def of(cls, items: Sequence[BatchItem]) -> BatchCounts:
        return cls.of_statuses(_status(item) for item in items)

    @classmethod
    def of_statuses(cls, statuses: Iterable[ExecutionStatus | None]) -> BatchCounts:
        """Counts from each item's execution status (None: the item has no execution)."""
        total = created = errors = completed = failed = pending = 0
        for status in statuses:
            total += 1
            if status is None:
                errors += 1
                continue
            created += 1
            if not status.is_terminal:
                pending += 1
            elif status == ExecutionStatus.COMPLETED:
                completed += 1
            else:
                failed += 1
        return cls(
            total=total,
            created=created,
            errors=errors,
            completed=completed,
            failed=failed,
            pending=pending,
        )


class BatchError(BudError):
    """Some items of a batch were not created or their executions did not complete.

    `failures` holds those items in input order; `result` is the whole `BatchResult`.
    """

    def __init__(self, result: BatchResult) -> None:
        self.result = result
        self.failures = result.failures
        counts = result.counts
        sample = "; ".join(_describe(item) for item in self.failures[:3])
        more = f" (+{len(self.failures) - 3} more)" if len(self.failures) > 3 else ""
        super().__init__(
            f"{len(self.failures)} of {counts.total} batch items failed "
            f"({counts.errors} not created, {counts.failed} ended badly): {sample}{more}"
        )


def _describe(item: BatchItem) -> str:
    if item.error is not None:
        return f"item {item.index}: {item.error}"
    execution = item.execution
    assert execution is not None
    return f"item {item.index}: execution {execution.id} {execution.status}"


class BatchResult(Sequence[BatchItem]):
    """Per-item results of `create_many`, in input order (``result[i]`` is input item i).

    Items kept as `ItemRow` become `BatchItem` when read (each read builds a new, equal one);
    `counts`, `ok` and `failures` read the statuses without building the other items.
    """

    def __init__(self, items: Sequence[BatchItem | ItemRow], *, batch_key: str | None = None) -> None:
        self._items = list(items)
        self.batch_key = batch_key

    def _item(self, index: int) -> BatchItem:
        entry = self._items[index]
        return entry if isinstance(entry, BatchItem) else entry.item(index, self.batch_key)

    @overload
    def __getitem__(self, index: int) -> BatchItem: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[BatchItem]: ...

    def __getitem__(self, index: int | slice) -> BatchItem | Sequence[BatchItem]:
        positions = range(len(self._items))
        if isinstance(index, slice):
            return [self._item(i) for i in positions[index]]
        return self._item(positions[index])

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[BatchItem]:
        return (self._item(i) for i in range(len(self._items)))

    def __repr__(self) -> str:
        return f"BatchResult({self.counts!r})"

    @property
    def counts(self) -> BatchCounts:
        return BatchCounts.of_statuses(_status(entry) for entry in self._items)

    @property
    def executions(self) -> list[Execution]:
        """The created executions, in input order (items with an error are left out)."""
        executions = (_unpacked(entry.execution) for entry in self._items)
        return [execution for execution in executions if execution is not None]

    @property
    def failures(self) -> list[BatchItem]:
        """Items not created, or whose execution ended failed, cancelled or timed out."""
        return [self._item(i) for i, entry in enumerate(self._items) if not _ok(_status(entry))]

    @property
    def ok(self) -> bool:
        return all(_ok(_status(entry)) for entry in self._items)

    def raise_for_failures(self) -> BatchResult:
        """Raise `BatchError` when any item failed; return self otherwise (for chaining)."""
        if not self.ok:
            raise BatchError(self)
        return self


@attrs.frozen(kw_only=True)
class BatchProgress:
    """A snapshot handed to `on_progress`.

    `total` is None until the input is exhausted (unless it has a length). `submitted` counts items
    sent to the server (answered or not), `created` those the server accepted, `rejected` those with
    an error. `running` counts created executions that have not ended; `completed` and `failed` are
    filled in only while waiting (`wait=True` or `wait_all`).
    """

    total: int | None = None
    submitted: int = 0
    created: int = 0
    rejected: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        """Items whose outcome is final from the caller's point of view (rejected or ended)."""
        return self.rejected + self.completed + self.failed


@attrs.define
class ProgressTracker:
    """Mutable counters behind the `BatchProgress` snapshots; one per batch, updated by the driver."""

    total: int | None = None
    submitted: int = 0
    created: int = 0
    rejected: int = 0
    completed: int = 0
    failed: int = 0

    def submit(self, n: int) -> None:
        self.submitted += n

    def answered(self, created: int, rejected: int) -> None:
        self.created += created
        self.rejected += rejected

    def reject_locally(self, n: int = 1) -> None:
        """An item failed before it was sent (bad params): it counts as submitted and rejected."""
        self.submitted += n
        self.rejected += n

    def ended(self, execution: Execution | PackedExecution) -> None:
        if execution.status == ExecutionStatus.COMPLETED:
            self.completed += 1
        else:
            self.failed += 1

    def snapshot(self) -> BatchProgress:
        running = max(self.created - self.completed - self.failed, 0)
        return BatchProgress(
            total=self.total,
            submitted=self.submitted,
            created=self.created,
            rejected=self.rejected,
            running=running,
            completed=self.completed,
            failed=self.failed,
        )
