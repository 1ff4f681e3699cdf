"""Blocking views of async objects, built by inspection so new resources need no sync code.

`wrap` turns what an async call returned into its sync form: an `AsyncPager` becomes a
`SyncPager`, any other async iterable (a log stream, `as_completed`) a `SyncStream`, a resource (an
object whose public methods are coroutine functions) a `SyncResource`; anything else, a model, a
list, None, is returned as is. A `SyncResource` call runs the async method on the client's loop
(`_invoke`: call it there, await what it returns unless that is an async iterable) and wraps the
answer, so every call has one implementation: the async one.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from budai_async._raw_views import RawResource, RawResponses
from budai_async._sync._iterators import SyncPager, SyncStream
from budai_async._sync._loop import LoopThread
from budai_async.pagination import AsyncPager
from budai_async.resources._base import Resource

__all__ = ["SyncResource", "blocking", "has_coroutine_methods", "is_resource", "wrap"]


_RESOURCE_TYPES: dict[type, bool] = {}


def has_coroutine_methods(cls: type) -> bool:
    """Whether `cls` has public coroutine methods (remembered per class)."""
    known = _RESOURCE_TYPES.get(cls)
    if known is None:
        names = [name for name in dir(cls) if not name.startswith("_")]
        known = any(inspect.iscoroutinefunction(getattr(cls, name, None)) for name in names)
        _RESOURCE_TYPES[cls] = known
    return known


def is_resource(value: object) -> bool:
    """True for a resource group: a `Resource`, a raw-response view of resources, or any object
    whose public methods are coroutines."""
    if isinstance(value, (Resource, RawResource, RawResponses)):
        return True
    if isinstance(value, (str, bytes, int, float, bool, list, tuple, dict, Mapping)) or value is None:
        return False
    return not callable(value) and has_coroutine_methods(type(value))


def wrap(value: Any, portal: LoopThread, owner: object) -> Any:
    """The sync form of `value` (see the module docstring); `owner` is kept alive by what is built."""
    if isinstance(value, AsyncPager):
        return SyncPager(value, portal, owner)
    if hasattr(value, "__aiter__"):
        return SyncStream(value, portal, owner)
    if is_resource(value):
        return SyncResource(value, portal, owner)
    return value


async def _invoke(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call `fn` on the loop; await its result unless that is an async iterable (a pager, a stream)."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result) and not hasattr(result, "__aiter__"):
        return await result
    return result


def blocking(fn: Callable[..., Any], portal: LoopThread, owner: object) -> Callable[..., Any]:
    """`fn` as a blocking call: run on `portal`'s loop, answer wrapped by `wrap`; same signature/doc."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return wrap(portal.run(_invoke(fn, args, kwargs)), portal, owner)

    return call


class SyncResource:
    """The blocking view of one async resource: every public method, same arguments, same answers.

    Coroutine methods block until answered; methods returning a pager or a stream return its sync
    form. Attributes are looked up on the async resource when first used, so a resource gains its
    sync form the moment it exists on `AsyncBudClient`.
    """

    def __init__(self, target: object, portal: LoopThread, owner: object) -> None:
        self._target = target
        self._portal = portal
        self._owner = owner  # keeps the client (and so its loop) alive while this view is used

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = getattr(self._target, name)
        if callable(value) and not isinstance(value, type):
            method = blocking(value, self._portal, self._owner)
            self.__dict__[name] = method  # later look-ups skip __getattr__
            return method
        return wrap(value, self._portal, self._owner)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *(n for n in dir(self._target) if not n.startswith("_"))})

    def __repr__(self) -> str:
        return f"<sync {type(self._target).__name__}>"
