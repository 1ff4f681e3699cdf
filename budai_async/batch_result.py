"""Kept for compatibility: batch results live in `budai_async.batch.result`; this path re-exports it."""

from budai_async.batch.result import (
    BatchCounts,
    BatchEntry,
    BatchError,
    BatchItem,
    BatchProgress,
    BatchResult,
    ItemError,
    ProgressTracker,
)

__all__ = [
    "BatchCounts",
    "BatchEntry",
    "BatchError",
    "BatchItem",
    "BatchProgress",
    "BatchResult",
    "ItemError",
    "ProgressTracker",
]
