"""BatchResult, counts, failures and progress snapshots from tables of items."""

from __future__ import annotations

import pytest

from budai_async.batch.result import (
    BatchCounts,
    BatchError,
    BatchItem,
    BatchProgress,
    BatchResult,
    ItemError,
    ProgressTracker,
)
from budai_async.errors import BudError, RateLimitError, UnprocessableEntityError
from budai_async.models import Execution, ExecutionStatus


def _item(index: int, status: str | None) -> BatchItem:
    if status is None:
        return BatchItem(
            index=index, error=ItemError(code="invalid", message="bad", field=f"items[{index}].params")
        )
    return BatchItem(index=index, execution=Execution(id=f"e{index}", status=ExecutionStatus(status)))


@pytest.mark.parametrize(
    ("statuses", "counts", "failed_indexes"),
    [
        ([], BatchCounts(), []),
        (["pending", "running"], BatchCounts(total=2, created=2, pending=2), []),
        (
            ["completed", None, "failed", "timeout", "cancelled", "pending"],
            BatchCounts(total=6, created=5, errors=1, completed=1, failed=3, pending=1),
            [1, 2, 3, 4],
        ),
        ([None, None], BatchCounts(total=2, errors=2), [0, 1]),
    ],
)
def test_counts_and_failures(
    statuses: list[str | None], counts: BatchCounts, failed_indexes: list[int]
) -> None:
    result = BatchResult([_item(i, s) for i, s in enumerate(statuses)])
    assert result.counts == counts
    assert [item.index for item in result.failures] == failed_indexes
    assert result.ok is (not failed_indexes)
    assert [e.id for e in result.executions] == [f"e{i}" for i, s in enumerate(statuses) if s is not None]


def test_result_is_an_ordered_sequence() -> None:
    items = [_item(i, "completed") for i in range(5)]
    result = BatchResult(items, batch_key="k")
    assert len(result) == 5
    assert result[2] is items[2]
    assert list(result[1:3]) == items[1:3]
    assert [item.index for item in result] == [0, 1, 2, 3, 4]
    assert "completed=5" in repr(result)


def test_raise_for_failures() -> None:
    fine = BatchResult([_item(0, "completed"), _item(1, "running")])
    assert fine.raise_for_failures() is fine
    bad = BatchResult([_item(i, None if i % 2 else "failed") for i in range(10)])
    with pytest.raises(BatchError) as caught:
        bad.raise_for_failures()
    assert isinstance(caught.value, BudError)
    assert caught.value.result is bad
    assert len(caught.value.failures) == 10
    text = str(caught.value)
    assert "10 of 10" in text and "5 not created" in text and "5 ended badly" in text
    assert "items[1].params" in text and "(+7 more)" in text


def test_item_error_from_api_error() -> None:
    error = UnprocessableEntityError(
        "bad", status_code=422, body={"error": {"code": "invalid_params", "message": "bad", "details": [1]}}
    )
    item_error = ItemError.from_api_error(error)
    assert (item_error.code, item_error.status, item_error.details) == ("invalid_params", 422, [1])
    no_code = ItemError.from_api_error(RateLimitError("slow down", status_code=429, body="text"))
    assert no_code.code == "http_429"


def test_progress_tracker_snapshots() -> None:
    tracker = ProgressTracker()
    tracker.submit(10)
    tracker.answered(created=8, rejected=2)
    tracker.reject_locally()
    tracker.ended(Execution(id="a", status=ExecutionStatus.COMPLETED))
    tracker.ended(Execution(id="b", status=ExecutionStatus.TIMEOUT))
    snapshot = tracker.snapshot()
    assert snapshot == BatchProgress(
        total=None, submitted=11, created=8, rejected=3, running=6, completed=1, failed=1
    )
    assert snapshot.done == 5
