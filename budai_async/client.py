"""Kept for compatibility: AsyncBudClient lives in `budai_async._client`; this path re-exports it."""

from budai_async._client import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    AsyncBudClient,
    json_default,
    new_idempotency_key,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "AsyncBudClient",
    "json_default",
    "new_idempotency_key",
]
