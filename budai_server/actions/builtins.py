"""The built-in actions of DESIGN §4, as the one list of `register` functions a registry reads.

The registry never imports its built-ins (they import it to register): `builtin_registry()` here
is the one place that brings them together.
"""

from __future__ import annotations

from collections.abc import Callable

from budai_server.actions import core, http, platform
from budai_server.actions.registry import ActionRegistry

__all__ = ["BUILTINS", "builtin_registry"]

BUILTINS: tuple[Callable[[ActionRegistry], None], ...] = (core.register, http.register, platform.register)


def builtin_registry() -> ActionRegistry:
    """A registry holding every built-in action."""
    registry = ActionRegistry()
    for register in BUILTINS:
        register(registry)
    return registry
