"""Packed executions (what `create_many` holds per item) give back exactly the eager `Execution`.

Every wire shape the converter knows (the fast path's, the gateway's that take the generic path) is
packed and unpacked, and must equal `structure_execution` of the same dict; broken ones must raise
what `structure_execution` raises, when they arrive. Results made of packed rows must read like
results made of `BatchItem`s.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_fastpath import BROKEN_CASES, FALLBACK_CASES, FAST_CASES, OURS

from budai_async._convert import structure_execution
from budai_async.batch._packed import PackedExecution, pack_execution
from budai_async.batch.result import BatchCounts, BatchItem, BatchResult, ItemError, ItemRow
from budai_async.models import Execution, ExecutionStatus

WIRE: dict[str, Any] = json.loads(json.dumps(OURS))  # decoded JSON, as the client hands it over


@pytest.mark.parametrize("data", FAST_CASES + FALLBACK_CASES)
def test_unpack_gives_the_execution_structure_gives(data: Any) -> None:
    wire = json.loads(json.dumps(data))  # the watch and the client hand over decoded JSON
    packed = pack_execution(wire)
    expected = structure_execution(data)
    assert isinstance(packed, PackedExecution)
    assert (packed.id, packed.status, packed.is_terminal) == (
        expected.id,
        expected.status,
        expected.is_terminal,
    )
    assert packed.unpack() == expected
    assert packed.unpack() == expected  # unpacking again gives it again


@pytest.mark.parametrize("data", BROKEN_CASES)
def test_a_broken_execution_raises_when_it_is_packed(data: Any) -> None:
    with pytest.raises(Exception) as eager:
        structure_execution(data)
    with pytest.raises(type(eager.value)):
        pack_execution(data)


def test_packing_is_compact_and_keeps_what_marshal_cannot_write() -> None:
    packed = pack_execution(WIRE)
    assert isinstance(packed, PackedExecution)
    assert len(packed._blob) < len(json.dumps(WIRE)) / 2
    odd = {**WIRE, "params": {"x": object()}}  # not JSON data: kept as the model
    kept = pack_execution(odd)
    assert isinstance(kept, Execution) and kept == structure_execution(odd)


def _packed(execution_id: str, status: str) -> PackedExecution:
    packed = pack_execution({**WIRE, "id": execution_id, "status": status})
    assert isinstance(packed, PackedExecution)
    return packed


def test_a_result_of_rows_reads_like_one_of_items() -> None:
    error = ItemError(code="invalid", message="bad", field="items[1].params")
    rows = [
        ItemRow(execution=_packed("e0", "completed")),
        ItemRow(error=error),
        ItemRow(execution=_packed("e2", "failed"), key="mine"),
        ItemRow(execution=Execution(id="e3", status=ExecutionStatus.RUNNING)),
    ]
    result = BatchResult(rows, batch_key="k")
    expected = [
        BatchItem(index=0, idempotency_key="k-0", execution=structure_execution({**WIRE, "id": "e0"})),
        BatchItem(index=1, idempotency_key="k-1", error=error),
        BatchItem(
            index=2,
            idempotency_key="mine",
            execution=structure_execution({**WIRE, "id": "e2", "status": "failed"}),
        ),
        BatchItem(
            index=3, idempotency_key="k-3", execution=Execution(id="e3", status=ExecutionStatus.RUNNING)
        ),
    ]
    assert list(result) == expected
    assert [result[i] for i in range(4)] == expected
    assert result[-1] == expected[3] and list(result[1:3]) == expected[1:3] and result[::-2] == expected[::-2]
    with pytest.raises(IndexError):
        result[4]
    assert result.counts == BatchCounts(total=4, created=3, errors=1, completed=1, failed=1, pending=1)
    assert [item.index for item in result.failures] == [1, 2]
    assert [e.id for e in result.executions] == ["e0", "e2", "e3"]
    assert not result.ok


def test_counts_read_statuses_without_unpacking() -> None:
    unreadable = PackedExecution("e0", ExecutionStatus.COMPLETED, b"not a packed execution")
    result = BatchResult([ItemRow(execution=unreadable)], batch_key="k")
    assert result.counts == BatchCounts(total=1, created=1, completed=1)
    assert result.ok and result.failures == [] and result.raise_for_failures() is result
    with pytest.raises(Exception):  # noqa: B017 - reading the item is what unpacks it
        result[0]
