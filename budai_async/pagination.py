"""List results that can be awaited (one page) or iterated with ``async for`` (every item).

``page = await client.executions.list(limit=50)`` is a list of 50 with `.total`;
``async for execution in client.executions.list(limit=50)`` walks all pages, 50 at a time, by the
server's cursor when it gives one, else by offset. When to stop is `next_position`, a pure function.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Sequence
from typing import Any, Generic, TypeVar

import attrs

from budai_async.models import Page

__all__ = ["AsyncPager", "PageList", "Position", "is_in_place", "next_position"]

T = TypeVar("T")
Query = Sequence[tuple[str, str]]


class PageList(list[T]):
    """One page of results: a plain list plus the server's `total`, `limit`, `offset`, `next_cursor`."""

    def __init__(
        self,
        items: Iterable[T] = (),
        *,
        total: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        next_cursor: str | None = None,
    ) -> None:
        super().__init__(items)
        self.total = total
        self.limit = limit
        self.offset = offset
        self.next_cursor = next_cursor

    @classmethod
    def from_page(cls, page: Page[T]) -> PageList[T]:
        return cls(
            page.items, total=page.total, limit=page.limit, offset=page.offset, next_cursor=page.next_cursor
        )

    @property
    def has_more(self) -> bool:
        """True when the server said there is more after this page."""
        if self.next_cursor:
            return True
        if self.total is not None and self.offset is not None:
            return self.offset + len(self) < self.total
        return False

    def has_next_page(self) -> bool:
        """`has_more`, in openai-python's spelling (walk the rest with ``async for`` over the call)."""
        return self.has_more


@attrs.frozen
class Position:
    """Where a page starts: an offset, or the opaque cursor the previous page returned."""

    offset: int = 0
    cursor: str | None = None


def next_position(current: Position, page: Page[Any], page_size: int | None) -> Position | None:
    """Where the page after `page` starts, or None when `page` was the last one.

    Cursor first (it never skips or repeats rows inserted meanwhile); then offset arithmetic, bounded
    by `total` or by a short page. A server that ignored our offset (its page starts elsewhere) or
    gave no paging data at all (a plain list) is read as a single page rather than looped forever.
    """
    if not page.items:
        return None
    if page.next_cursor:
        return Position(offset=current.offset + len(page.items), cursor=page.next_cursor)
    if current.cursor is not None or not is_in_place(current, page):
        return None
    following = current.offset + len(page.items)
    if page.total is not None:
        return Position(offset=following) if following < page.total else None
    if page.limit is None and page.offset is None:
        return None  # a plain list: the server does not page this route
    size = page.limit or page_size
    if size is None or len(page.items) < size:
        return None
    return Position(offset=following)


def is_in_place(current: Position, page: Page[Any]) -> bool:
    """False when a server answered another page than the one asked for (it ignores our offset).

    Such a page repeats items already seen, so iteration stops instead of yielding them again.
    """
    if current.cursor is not None or page.offset is None:
        return True
    return page.offset == current.offset


class AsyncPager(Generic[T]):
    """A list call not yet sent: ``await`` it for the first page, ``async for`` it for every item."""

    def __init__(
        self,
        fetch: Callable[[list[tuple[str, str]]], Awaitable[Page[T]]],
        query: Query,
        *,
        limit: int | None,
        offset: int | None,
    ) -> None:
        self._fetch = fetch
        self._query = list(query)
        self._limit = limit
        self._start = Position(offset=offset or 0)

    def __bool__(self) -> bool:
        """Refused: an un-awaited list call would always be true (``if client.executions.list():``)."""
        raise TypeError(
            "a list call is true whatever it would find: `await` it for a page (a PageList, "
            "empty or not) or `async for` over it for every item"
        )

    def _query_at(self, position: Position) -> list[tuple[str, str]]:
        query = list(self._query)
        if self._limit is not None:
            query.append(("limit", str(self._limit)))
        if position.cursor is not None:
            query.append(("cursor", position.cursor))
        elif position.offset:
            query.append(("offset", str(position.offset)))
        return query

    async def _page_at(self, position: Position) -> Page[T]:
        return await self._fetch(self._query_at(position))

    async def first_page(self) -> PageList[T]:
        """Fetch the page at the requested offset."""
        return PageList.from_page(await self._page_at(self._start))

    def __await__(self) -> Generator[Any, None, PageList[T]]:
        return self.first_page().__await__()

    async def pages(self) -> AsyncIterator[PageList[T]]:
        """Every page in turn, starting at the requested offset."""
        position: Position | None = self._start
        first = True
        while position is not None:
            page = await self._page_at(position)
            if not first and not is_in_place(position, page):
                return
            first = False
            yield PageList.from_page(page)
            position = next_position(position, page, self._limit)

    async def _items(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page:
                yield item

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()
