"""`client.with_raw_response`: every resource of the client, each call answering an `APIResponse`.

The views are built from the client's resources when asked for, so a new resource has one the
moment it exists; what type checkers see of them is `AsyncRawResponses` (generated into
`budai_async/_surface` from the same resources). `BudClient` wraps these async views like any
resource (`budai_async/_sync/_proxy.py`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from budai_async._raw import APIResponse, raw_response
from budai_async.errors import BudError
from budai_async.resources._base import Resource

if TYPE_CHECKING:  # the generated, typed face of these views; nothing at run time
    from budai_async._surface import AsyncRawResponses as _Typed
else:
    _Typed = object

__all__ = ["RawResource", "RawResponses"]


class RawResource:
    """One resource whose methods answer `APIResponse` instead of the bare result."""

    def __init__(self, resource: object) -> None:
        self._resource = resource

    def __getattr__(self, name: str) -> Callable[..., Awaitable[APIResponse[Any]]]:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self._resource, name)
        if not callable(method):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> APIResponse[Any]:
            async def run() -> Any:
                result = method(*args, **kwargs)
                if not inspect.isawaitable(result):
                    raise BudError(f"{name}() is not a single request and has no raw response")
                return await result

            return await raw_response(run)

        call.__name__ = call.__qualname__ = name
        call.__doc__ = method.__doc__
        return call

    def __repr__(self) -> str:
        return f"<raw {type(self._resource).__name__}>"


class RawResponses(_Typed):
    """`client.with_raw_response`: a raw view of each resource of the client, by the same name."""

    def __init__(self, client: object) -> None:
        for name, value in vars(client).items():
            if isinstance(value, Resource) and not name.startswith("_"):
                setattr(self, name, RawResource(value))
