"""The handler registry: which async functions run for which event types.

A `Handlers` object can live in the user's module without a secret or a store (the CLI loads it with
``--handlers module:attr``); `Receiver` owns one and forwards the same decorators.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import attrs

from receiver.events import CallbackEvent

__all__ = ["ErrorHook", "HandlerFailure", "HandlerFunc", "Handlers", "Registration"]

HandlerFunc = Callable[[CallbackEvent], Awaitable[Any]]
F = TypeVar("F", bound=HandlerFunc)


@attrs.frozen(kw_only=True)
class HandlerFailure:
    """What an `on_error` hook receives when a handler has used up its retries."""

    event_id: str
    handler: str
    attempts: int
    error: BaseException


ErrorHook = Callable[[CallbackEvent, HandlerFailure], Awaitable[Any]]
H = TypeVar("H", bound=ErrorHook)


@attrs.frozen(kw_only=True)
class Registration:
    """One handler: its stable `name` (the key of its done marker) and the type patterns it serves."""

    name: str
    patterns: tuple[str, ...]
    func: HandlerFunc

    def matches(self, event_type: str) -> bool:
        """True if any of the fnmatch `patterns` matches `event_type` (case-sensitive)."""
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.patterns)


def _default_name(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def _require_async(func: Callable[..., Any]) -> None:
    if not inspect.iscoroutinefunction(func):
        raise TypeError(f"{_default_name(func)} must be an async function (async def)")


class Handlers:
    """A registry of event handlers and error hooks.

    Handler names default to ``module.qualname`` and must be unique: the name is what marks a
    handler done for an event, so renaming a handler re-runs it for events replayed later.
    """

    def __init__(self) -> None:
        self._registrations: dict[str, Registration] = {}
        self._error_hooks: list[ErrorHook] = []
        self._cache: dict[str, tuple[Registration, ...]] = {}

    def __len__(self) -> int:
        return len(self._registrations)

    @property
    def registrations(self) -> tuple[Registration, ...]:
        return tuple(self._registrations.values())

    @property
    def error_hooks(self) -> tuple[ErrorHook, ...]:
        return tuple(self._error_hooks)

    def add(self, func: HandlerFunc, *patterns: str, name: str | None = None) -> Registration:
        """Register `func` for events whose type matches any of `patterns`; returns the registration."""
        _require_async(func)
        if not patterns:
            raise ValueError("give at least one event type pattern")
        registration = Registration(name=name or _default_name(func), patterns=patterns, func=func)
        if registration.name in self._registrations:
            raise ValueError(f"a handler named {registration.name!r} is already registered")
        self._registrations[registration.name] = registration
        self._cache.clear()
        return registration

    def on(self, *patterns: str, name: str | None = None) -> Callable[[F], F]:
        """Decorator: run the function for events whose type matches a pattern (``"execution.*"``)."""

        def register(func: F) -> F:
            self.add(func, *patterns, name=name)
            return func

        return register

    @overload
    def on_complete(self, func: F, *, name: str | None = None) -> F: ...
    @overload
    def on_complete(self, func: None = None, *, name: str | None = None) -> Callable[[F], F]: ...
    def on_complete(self, func: F | None = None, *, name: str | None = None) -> F | Callable[[F], F]:
        """Decorator for ``execution.completed`` events; usable bare or as ``on_complete(name=...)``."""
        decorator: Callable[[F], F] = self.on("execution.completed", name=name)
        return decorator(func) if func is not None else decorator

    @overload
    def on_failure(self, func: F, *, name: str | None = None) -> F: ...
    @overload
    def on_failure(self, func: None = None, *, name: str | None = None) -> Callable[[F], F]: ...
    def on_failure(self, func: F | None = None, *, name: str | None = None) -> F | Callable[[F], F]:
        """Decorator for ``execution.failed`` events; usable bare or as ``on_failure(name=...)``."""
        decorator: Callable[[F], F] = self.on("execution.failed", name=name)
        return decorator(func) if func is not None else decorator

    def on_error(self, func: H) -> H:
        """Decorator: call ``func(event, failure)`` when a handler has failed its last retry."""
        _require_async(func)
        self._error_hooks.append(func)
        return func

    def include(self, other: Handlers) -> None:
        """Copy another registry's handlers and hooks into this one (names must stay unique)."""
        for registration in other.registrations:
            self.add(registration.func, *registration.patterns, name=registration.name)
        self._error_hooks.extend(other.error_hooks)

    def matching(self, event_type: str) -> tuple[Registration, ...]:
        """The handlers that run for `event_type`, in registration order."""
        found = self._cache.get(event_type)
        if found is None:
            found = tuple(r for r in self._registrations.values() if r.matches(event_type))
            if len(self._cache) < 1024:  # types come from authenticated senders, but stay bounded
                self._cache[event_type] = found
        return found
