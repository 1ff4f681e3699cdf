"""When paging stops and where the next page starts (`next_position`), as a table."""

from __future__ import annotations

import pytest

from budai_async.models import Page
from budai_async.pagination import PageList, Position, is_in_place, next_position


def page(
    n: int,
    *,
    total: int | None = None,
    limit: int | None = None,
    offset: int | None = None,
    cursor: str | None = None,
) -> Page[int]:
    return Page(items=list(range(n)), total=total, limit=limit, offset=offset, next_cursor=cursor)


@pytest.mark.parametrize(
    ("current", "got", "size", "expected"),
    [
        (Position(0), page(0, total=0, limit=10, offset=0), 10, None),
        (Position(0), page(10, total=25, limit=10, offset=0), 10, Position(10)),
        (Position(20), page(5, total=25, limit=10, offset=20), 10, None),
        (Position(10), page(10, total=20, limit=10, offset=10), 10, None),  # exactly at total
        (Position(0), page(10, limit=10, offset=0), 10, Position(10)),  # no total: a full page
        (Position(0), page(7, limit=10, offset=0), 10, None),  # no total: a short page ends it
        (Position(0), page(10, total=100, limit=10, offset=0, cursor="c1"), 10, Position(10, "c1")),
        (Position(10, "c1"), page(10, total=100, limit=10, cursor="c2"), 10, Position(20, "c2")),
        (Position(10, "c1"), page(10, total=100, limit=10), 10, None),  # cursor paging ended
        (Position(10), page(10, total=100, limit=10, offset=0), 10, None),  # server ignored our offset
        (Position(0), page(3), None, None),  # a plain list (gateway): one page
        (Position(0), page(20), 20, None),  # a full plain list is still the only page
        (Position(0), page(20, offset=0), 20, Position(20)),  # paged, limit not echoed: ours counts
    ],
)
def test_next_position(
    current: Position, got: Page[int], size: int | None, expected: Position | None
) -> None:
    assert next_position(current, got, size) == expected


def test_page_list_is_a_list_with_metadata() -> None:
    items = PageList.from_page(page(3, total=10, limit=3, offset=0))
    assert items == [0, 1, 2] and len(items) == 3
    assert items.total == 10 and items.limit == 3 and items.offset == 0
    assert items.has_more and items.has_next_page()
    assert not PageList.from_page(page(3, total=3, limit=3, offset=0)).has_more
    assert not PageList.from_page(page(3, total=3, limit=3, offset=0)).has_next_page()
    assert PageList.from_page(page(3, cursor="c")).has_more


@pytest.mark.parametrize(
    ("current", "got", "in_place"),
    [
        (Position(0), page(3, offset=0), True),
        (Position(10), page(3, offset=10), True),
        (Position(10), page(3, offset=0), False),  # the gateway answers page 1 whatever we ask
        (Position(10), page(3), True),  # no offset reported: trust it
        (Position(10, "c"), page(3, offset=0), True),  # cursor pages carry no comparable offset
    ],
)
def test_is_in_place(current: Position, got: Page[int], in_place: bool) -> None:
    assert is_in_place(current, got) is in_place
