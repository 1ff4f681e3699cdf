"""Timing of `executions.wait`: how long each long-poll asks for, and the fallback when a server ignores it.

Pure functions, so the wait loop in `resources/executions.py` only sends requests and sleeps.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "LONG_POLL_MAX_SECONDS",
    "advertised_maximum",
    "fallback_poll_delay",
    "long_poll_seconds",
    "server_ignored_wait",
]

LONG_POLL_MAX_SECONDS = 30.0
_MIN_POLL_SECONDS = 0.01


def long_poll_seconds(remaining: float | None, *, max_chunk: float = LONG_POLL_MAX_SECONDS) -> float:
    """The `?wait=` of the next long-poll: up to `max_chunk`, never past the caller's deadline."""
    if remaining is None:
        return max_chunk
    return round(max(min(remaining, max_chunk), min(_MIN_POLL_SECONDS, max_chunk)), 3)


def advertised_maximum(details: Any, field: str, asked: float) -> float | None:
    """The server's limit for `field` from a 422 refusing a wait over it (``code: over_limit``), when
    it is below what was `asked`; None for any other refusal (so it is raised, not retried)."""
    if not isinstance(details, list):
        return None
    for entry in details:
        if isinstance(entry, dict) and entry.get("path") == field and entry.get("code") == "over_limit":
            maximum = entry.get("maximum")
            if isinstance(maximum, int | float) and not isinstance(maximum, bool) and 0 <= maximum < asked:
                return float(maximum)
    return None


def server_ignored_wait(*, requested: float, elapsed: float, changed: bool) -> bool:
    """True when a long-poll came back at once with nothing new: the server does not support `?wait`.

    Our server answers early only when the execution ends (or at its own cap, seconds later); the
    real gateway answers at once. "At once" is under half the wait asked for, and under a second.
    A wait of 0 (a server whose long-poll maximum is 0) is a plain read: pace it the same way.
    """
    return not changed and (requested <= 0 or elapsed < min(requested / 2, 1.0))


def fallback_poll_delay(polls: int, *, base: float = 0.25, cap: float = 5.0) -> float:
    """Pause between plain polls (for servers without long-poll): doubling from `base` up to `cap`."""
    return float(min(cap, base * (2 ** max(polls, 0))))
