"""`BudClient`: the blocking twin of `AsyncBudClient`, running the async client on a private loop.

Every call is the async implementation, run on the client's own event loop thread
(`budai_async._sync._loop`) and wrapped into its sync form (`budai_async._sync._proxy`). Resources
are not listed here: any resource attribute of `AsyncBudClient` (``pipelines``, ``executions``,
``actions`` and whatever is added later) is exposed through the same generic proxy. What type
checkers see of them comes from `SyncResources` (generated into `budai_async/_surface` by
tools/gen_sync_surface.py), a base class for them only.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from budai_async._client import AsyncBudClient
from budai_async._requester import UNSET
from budai_async._requester import Unset as _Unset
from budai_async._sync._loop import LoopThread
from budai_async._sync._proxy import SyncResource, blocking, is_resource, wrap

if TYPE_CHECKING:  # what type checkers see of the proxied resources; nothing at run time
    from budai_async._surface import SyncResources as _Typed
else:
    _Typed = object

__all__ = ["BudClient"]

P = ParamSpec("P")
S = TypeVar("S")


def same_arguments_as(
    source: Callable[Concatenate[Any, P], None],
) -> Callable[[Callable[Concatenate[S, ...], None]], Callable[Concatenate[S, P], None]]:
    """Give an ``__init__`` that forwards ``**options`` the signature of `source`, for type checkers,
    editors and `help()`: unknown or misspelt options are errors before run time, with no second
    copy of the option list to keep in step."""

    def apply(init: Callable[Concatenate[S, ...], None]) -> Callable[Concatenate[S, P], None]:
        init.__signature__ = inspect.signature(source)  # type: ignore[attr-defined]
        return init

    return apply


def _shut(portal: LoopThread, client: AsyncBudClient) -> None:
    """Close the connection pool on the loop, then stop the loop (the finaliser: no `self` here)."""
    portal.close(client.aclose)


class BudClient(_Typed):
    """Synchronous client of a BudAI pipeline server: ``with BudClient() as client: ...``.

    Takes the same keyword arguments as `AsyncBudClient` and has the same resources, methods,
    arguments, models and errors; calls block until answered. Safe to share between threads (they
    share one connection pool). Close it with ``with`` or `close()`; one left open is closed at
    garbage collection or interpreter exit, without warnings. Calls made inside a running event
    loop raise EventLoopError: async code uses `AsyncBudClient`.
    """

    @same_arguments_as(AsyncBudClient.__init__)
    def __init__(self, *, api_key: str | None = None, base_url: str | None = None, **options: Any) -> None:
        self._portal = LoopThread()
        try:
            self._async = AsyncBudClient(api_key=api_key, base_url=base_url, **options)
        except BaseException:
            self._portal.close()
            raise
        self._parent: BudClient | None = None
        self._finalizer: weakref.finalize[Any, BudClient] | None = weakref.finalize(
            self, _shut, self._portal, self._async
        )

    # ------------------------------------------------------------------ resources, generically

    def __getattr__(self, name: str) -> Any:
        """A resource of the async client as a `SyncResource`; its methods as blocking calls."""
        if name.startswith("_"):
            raise AttributeError(name)
        value = getattr(self._async, name)
        if callable(value) and not is_resource(value):
            return blocking(value, self._portal, self)
        wrapped = wrap(value, self._portal, self)
        if isinstance(wrapped, SyncResource):
            self.__dict__[name] = wrapped  # one view per resource
        return wrapped

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *(n for n in dir(self._async) if not n.startswith("_"))})

    # ------------------------------------------------------------------ configuration and lifecycle

    @property
    def async_client(self) -> AsyncBudClient:
        """The async client doing the work (use it only on this client's loop, i.e. not directly)."""
        return self._async

    @property
    def closed(self) -> bool:
        return self._portal.closed or self._async.closed

    def with_options(self, *, timeout: Any = UNSET, max_retries: int | None = None) -> BudClient:
        """A client with other timeouts and/or retries sharing this one's loop and connection pool."""
        clone = object.__new__(BudClient)
        clone._portal = self._portal
        options: dict[str, Any] = {"max_retries": max_retries}
        if not isinstance(timeout, _Unset):
            options["timeout"] = timeout
        clone._async = self._async.with_options(**options)
        clone._parent = self  # the loop lives as long as any copy
        clone._finalizer = None
        return clone

    def __copy__(self) -> BudClient:
        """``copy.copy(client)``: a client sharing this one's loop and pool that does not close them."""
        return self.with_options()

    def __deepcopy__(self, memo: dict[int, object]) -> BudClient:
        """Same as `copy.copy`: the loop and the pool are shared, never duplicated."""
        return self.with_options()

    def close(self) -> None:
        """Close the connection pool and stop the loop thread (idempotent; a no-op on copies)."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> BudClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BudClient(base_url={self._async.base_url!r}, max_retries={self._async.max_retries})"
