"""Sync forms of the async iterables: `SyncPager` for list calls, `SyncStream` for everything else.

`SyncPager` fetches page by page on the client's loop (one hop per page), keeps what it walked, and
counts it: ``len(pager)`` is the number of items ``for item in pager`` yields (every page), so code
such as the guide's success rate (``len(history)`` beside ``[e for e in history if ...]``) counts
one and the same set. `SyncStream` hops to the loop once per item; it is a context manager and ends
(closing its socket) when the async iterator ends, on `close()`, or when garbage-collected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

from budai_async._sync._loop import EventLoopError, LoopThread
from budai_async.errors import BudError
from budai_async.pagination import AsyncPager, PageList

__all__ = ["SyncPager", "SyncStream"]

T = TypeVar("T")


class _End:
    """What `_next` answers instead of raising StopAsyncIteration across threads."""


_END = _End()


class SyncStream(Generic[T]):
    """A blocking iterator over an async iterable: ``for x in stream`` / ``with stream: ...``.

    Attributes of the async object (a log stream's `status` and `last_seq`, `as_completed`'s
    `remaining`) read through. Use it from one thread at a time.
    """

    def __init__(self, source: Any, portal: LoopThread, owner: object) -> None:
        self._source = source
        self._portal = portal
        self._owner = owner
        self._iterator: Any = None
        self._done = False

    def __enter__(self) -> SyncStream[T]:
        """Enter the async object's context (a log stream connects here: a bad id raises now)."""
        enter = getattr(self._source, "__aenter__", None)
        if enter is not None:
            self._portal.run(_await(enter))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> SyncStream[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        try:
            item = self._portal.run(self._next())
        except BaseException:
            self.close()
            raise
        if isinstance(item, _End):
            self.close()
            raise StopIteration
        return item  # type: ignore[no-any-return]

    async def _next(self) -> Any:
        if self._iterator is None:
            self._iterator = self._source.__aiter__()
        try:
            return await self._iterator.__anext__()
        except StopAsyncIteration:
            return _END

    def close(self) -> None:
        """Close the async iterator and its object (their sockets); idempotent."""
        if self._done:
            return
        self._done = True
        if self._portal.closed:
            return
        try:
            self._portal.run(self._aclose())
        except EventLoopError:  # closed from async code or a finaliser: let the loop finish it
            with contextlib.suppress(BudError):
                self._portal.submit(self._aclose())
        except BudError:  # the client was closed by another thread meanwhile
            pass

    async def _aclose(self) -> None:
        for part in (self._iterator, self._source):
            aclose = getattr(part, "aclose", None)
            if aclose is not None:
                await aclose()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._source, name)

    def __del__(self) -> None:
        if getattr(self, "_done", True) or self._portal.closed:
            return
        self._done = True
        with contextlib.suppress(BudError, RuntimeError):  # never raise from a finaliser
            self._portal.submit(self._aclose())


async def _await(method: Any) -> Any:
    return await method()


class SyncPager(Generic[T]):
    """A list call: ``for item in pager`` walks every page; ``len(pager)`` counts those items.

    Items are fetched lazily, `limit` at a time (the page size), and kept once walked, so `len()`,
    indexing and a second loop reuse them instead of asking again. `first_page()` returns just the
    page at `offset` (a `PageList` with `total`), `pages()` streams pages without keeping them.
    """

    def __init__(self, pager: AsyncPager[T], portal: LoopThread, owner: object) -> None:
        self._pager = pager
        self._portal = portal
        self._owner = owner
        self._items: list[T] | None = None

    def first_page(self) -> PageList[T]:
        """The one page at the requested offset, with the server's `total` (as ``await`` gives)."""
        return self._portal.run(self._pager.first_page())

    def pages(self) -> SyncStream[PageList[T]]:
        """Every page in turn, one request each, nothing kept."""
        return SyncStream(self._pager.pages(), self._portal, self._owner)

    def __iter__(self) -> Iterator[T]:
        if self._items is not None:
            return iter(self._items)
        return self._walk()

    def _walk(self) -> Iterator[T]:
        walked: list[T] = []
        with self.pages() as pages:
            for page in pages:
                walked.extend(page)
                yield from page
        self._items = walked

    def _all(self) -> list[T]:
        if self._items is None:
            self._items = [item for page in self.pages() for item in page]
        return self._items

    def __len__(self) -> int:
        """How many items iterating yields: every page's items (fetched now if not walked yet)."""
        return len(self._all())

    def __bool__(self) -> bool:
        return bool(self._all())

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        return self._all()[index]

    def __repr__(self) -> str:
        state = "not fetched" if self._items is None else f"{len(self._items)} items"
        return f"<SyncPager {state}>"
