"""Actions the engine runs: the registry, the context handed to each action, and the built-ins."""

from budai_server.actions.registry import (
    ENTRY_POINT_GROUP,
    ActionContext,
    ActionError,
    ActionHandler,
    ActionRegistry,
    ActionSettings,
    RegisteredAction,
    StepLog,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionContext",
    "ActionError",
    "ActionHandler",
    "ActionRegistry",
    "ActionSettings",
    "RegisteredAction",
    "StepLog",
]
