"""Relay connection pieces shared by every domain."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import strawberry

from resolvers.pagination import CountedPage, Page, decode_cursor, encode_cursor


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class CountedConnection:
    """The ``totalCount`` of a connection, counted only when selected."""

    _counted: strawberry.Private[CountedPage[Any]]

    @strawberry.field
    async def total_count(self) -> int:
        return await self._counted.total_count()


def page_info(page: Page[Any]) -> PageInfo:
    ids: Sequence[int] = [item.id for item in page.items]
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=encode_cursor(ids[0]) if ids else None,
        end_cursor=encode_cursor(ids[-1]) if ids else None,
    )


T = TypeVar("T")
E = TypeVar("E")


def edges(page: Page[Any], node: Callable[[Any], T], edge: Callable[..., E]) -> list[E]:
    return [edge(cursor=encode_cursor(item.id), node=node(item)) for item in page.items]


def cursors(after: str | None, before: str | None) -> tuple[int | None, int | None]:
    return decode_cursor(after, "after"), decode_cursor(before, "before")
