"""Webhook receiver for BudAI callbacks: verify, deduplicate, store durably, dispatch to handlers.

Build a `Receiver` with a secret and a store, register ``async def`` handlers with its decorators
(``on_complete``, ``on_failure``, ``on("execution.*")``, ``on_error``), and serve
``receiver.create_app()`` or mount it with ``receiver.setup(app)``. See docs/receiver.md.
"""

from __future__ import annotations

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
