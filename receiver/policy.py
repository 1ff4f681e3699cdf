"""Pure timing decisions of the dispatcher, kept apart so tables of cases can test them."""

from __future__ import annotations

__all__ = ["retry_delay", "should_retry"]


def should_retry(attempt: int, retries: int) -> bool:
    """True if a handler that just failed its `attempt`-th try (1-based) gets another one."""
    return attempt <= retries


def retry_delay(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Seconds to wait after failed try `attempt` (1-based): exponential, capped, with equal jitter.

    The un-jittered delay is ``min(cap, base * 2 ** (attempt - 1))``; `jitter` in [0, 1) scales it
    into [half, full) so handlers that failed together do not all retry at the same instant.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 62))
    return ceiling * (0.5 + jitter / 2.0)
