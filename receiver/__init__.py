"""Webhook receiver for BudAI callbacks: verify, deduplicate, store durably, dispatch to handlers.

Build a `Receiver` with a secret and a store, register ``async def`` handlers with its decorators
(``on_complete``, ``on_failure``, ``on("execution.*")``, ``on_error``), and serve
``receiver.create_app()`` or mount it with ``receiver.setup(app)``. See docs/receiver.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from receiver.events import CallbackEvent, MalformedEvent, parse_event
    from receiver.handlers import HandlerFailure, Handlers
    from receiver.receiver import Receiver
    from receiver.stores import DeadLetter, SQLiteStore, Store, StoreError, store_from_url

__all__ = [
    "CallbackEvent",
    "DeadLetter",
    "HandlerFailure",
    "Handlers",
    "MalformedEvent",
    "Receiver",
    "SQLiteStore",
    "Store",
    "StoreError",
    "parse_event",
    "store_from_url",
]

# Imported on first use (PEP 562), so `python -m receiver` reaches the console script's entry point,
# which names a missing `receiver` extra in one line, before anything needs the extra.
_HOMES = {
    "CallbackEvent": "receiver.events",
    "MalformedEvent": "receiver.events",
    "parse_event": "receiver.events",
    "HandlerFailure": "receiver.handlers",
    "Handlers": "receiver.handlers",
    "Receiver": "receiver.receiver",
    "DeadLetter": "receiver.stores",
    "SQLiteStore": "receiver.stores",
    "Store": "receiver.stores",
    "StoreError": "receiver.stores",
    "store_from_url": "receiver.stores",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'receiver' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
