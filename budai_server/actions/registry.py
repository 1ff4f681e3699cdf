"""The action registry: built-in and user actions by type, with their specs and handlers.

An action is an async callable ``handler(params, ctx) -> output dict``; `params` are already rendered,
checked against the action's schema and completed with its defaults. Users add actions with
`ActionRegistry.action` (a decorator), through the ``budai.actions`` entry point group, or with
``budai-server --actions pkg.mod`` (`load_module`), whose module defines ``register(registry)``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import types
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from budai_async.models import Action
from budai_async.pipeline.action_specs import ActionSpec, alias_index
from budai_server.engine.types import LogSink
from budai_server.outbound.policy import OutboundPolicy

if TYPE_CHECKING:
    import aiohttp

    from budai_server.store.inventory import Inventory

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

ENTRY_POINT_GROUP = "budai.actions"


class ActionError(Exception):
    """An action failed with a message meant for the user (no traceback).

    `retryable=False` says another attempt cannot help (a bad reference, a bad input), so the
    engine does not retry it whatever the step's retry policy.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@attrs.frozen(kw_only=True)
class ActionSettings:
    """Server settings actions read (filled from the server config).

    `outbound` is the policy every outbound request obeys; the default is the strict one.
    """

    notification_url: str | None = None
    http_timeout_seconds: float = 30.0
    outbound: OutboundPolicy = attrs.field(factory=OutboundPolicy)


@attrs.frozen
class StepLog:
    """A step's logger: writes to the execution's log with the step id attached."""

    sink: LogSink
    execution_id: str
    step_id: str

    def emit(self, level: str, message: str) -> None:
        self.sink.emit(self.execution_id, level, message, self.step_id)

    def debug(self, message: str) -> None:
        self.emit("debug", message)

    def info(self, message: str) -> None:
        self.emit("info", message)

    def warning(self, message: str) -> None:
        self.emit("warning", message)

    def error(self, message: str) -> None:
        self.emit("error", message)


@attrs.frozen(kw_only=True)
class ActionContext:
    """What an action may use besides its params.

    `evaluate` evaluates an expression against this execution's params and step results (the
    `condition` action uses it); it raises `budai_server.engine.templates.TemplateError`.
    """

    execution_id: str
    step_id: str
    attempt: int
    log: StepLog
    inventory: Inventory
    http: aiohttp.ClientSession | None
    settings: ActionSettings
    evaluate: Callable[[str], Any]


ActionHandler = Callable[[dict[str, Any], ActionContext], Awaitable[Mapping[str, Any]]]


@attrs.frozen
class RegisteredAction:
    spec: ActionSpec
    handler: ActionHandler


_ANY_PARAMS: Mapping[str, Any] = {"type": "object", "properties": {}, "additionalProperties": True}


class ActionRegistry:
    """Action types (and aliases) mapped to their spec and handler."""

    def __init__(self) -> None:
        self._actions: dict[str, RegisteredAction] = {}
        self._names: dict[str, str] = {}
        self.version = 0  # bumped on every registration (lets callers cache per version)

    def register(self, spec: ActionSpec, handler: ActionHandler) -> None:
        """Add an action; raises ValueError when its type or an alias is already taken."""
        for name in (spec.type, *spec.aliases):
            if name in self._names:
                raise ValueError(f"action name {name!r} is already registered (by {self._names[name]!r})")
        self._actions[spec.type] = RegisteredAction(spec, handler)
        self._names.update(alias_index({spec.type: spec}))
        self.version += 1

    def action(
        self,
        type: str,
        *,
        description: str = "",
        params: Mapping[str, Any] | None = None,
        outputs: tuple[str, ...] = (),
        aliases: tuple[str, ...] = (),
        category: str = "custom",
    ) -> Callable[[ActionHandler], ActionHandler]:
        """Decorator registering a handler; `params` is a JSON schema of an object (default: any)."""

        def decorate(handler: ActionHandler) -> ActionHandler:
            spec = ActionSpec(
                type=type,
                description=description or (handler.__doc__ or "").strip().split("\n")[0],
                params=params if params is not None else _ANY_PARAMS,
                outputs=tuple(outputs),
                aliases=tuple(aliases),
                category=category,
            )
            self.register(spec, handler)
            return handler

        return decorate

    def resolve(self, name: str) -> RegisteredAction | None:
        """The action registered under a type or an alias."""
        canonical = self._names.get(name)
        return self._actions[canonical] if canonical is not None else None

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._actions)

    @property
    def specs(self) -> Mapping[str, ActionSpec]:
        """Every spec by canonical type, for `budai_async.pipeline.definition.validate(actions=...)`."""
        return types.MappingProxyType({name: action.spec for name, action in self._actions.items()})

    def catalogue(self) -> list[Action]:
        """Catalogue entries sorted by type (``GET /budpipeline/actions``)."""
        return [self._actions[name].spec.to_model() for name in sorted(self._actions)]

    def load_module(self, dotted: str) -> None:
        """Import `dotted` and call its ``register(registry)``.

        Raises ImportError when the module cannot be imported and TypeError when it has no
        callable ``register``.
        """
        module = importlib.import_module(dotted)
        register = getattr(module, "register", None)
        if not callable(register):
            raise TypeError(f"action module {dotted!r} has no register(registry) function")
        register(self)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Load every installed entry point of `group`; each names a module with ``register`` or a
        ``register``-like callable. Returns the entry point names loaded."""
        loaded = []
        for entry_point in importlib.metadata.entry_points(group=group):
            target = entry_point.load()
            register = (
                target if not isinstance(target, types.ModuleType) else getattr(target, "register", None)
            )
            if not callable(register):
                raise TypeError(
                    f"entry point {entry_point.name!r} is neither a register function nor a module with one"
                )
            register(self)
            loaded.append(entry_point.name)
        return loaded
