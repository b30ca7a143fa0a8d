"""Relay connections, written once for every domain.

``Connection[Message]`` is the GraphQL type ``MessageConnection`` and its
edges ``MessageEdge``: Strawberry names a specialization of a generic type
after its argument, then the generic's own name (as Arize Phoenix's
``types/pagination.py`` does). :class:`CountedConnection` adds
``totalCount``; it is named ``Connection`` too, so that
``CountedConnection[Product]`` is ``ProductConnection``. One node type takes
one of the two: both at once would be two types of one name, which
Strawberry refuses when it builds the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import strawberry

from resolvers.pagination import CountedPage, Page, PageRequest, decode_cursor, encode_cursor
from schema.fast import computed


class _Row(Protocol):
    @property
    def id(self) -> int: ...


NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT", bound=_Row)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, page: Page[Any]) -> PageInfo:
        items = page.items
        return cls(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=encode_cursor(items[0].id) if items else None,
            end_cursor=encode_cursor(items[-1].id) if items else None,
        )


def _cursor(self: Edge[Any]) -> str:
    return encode_cursor(self._row_id)


@strawberry.type
class Edge(Generic[NodeT]):
    # Encoded when selected: most pages are read for their nodes only.
    cursor: str = strawberry.field(resolver=_cursor, metadata=computed())
    node: NodeT
    _row_id: strawberry.Private[int]


def _edges(page: Page[RowT], node: Callable[[RowT], NodeT]) -> list[Edge[NodeT]]:
    return [Edge(_row_id=item.id, node=node(item)) for item in page.items]


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo

    @classmethod
    def of(cls, page: Page[RowT], node: Callable[[RowT], NodeT]) -> Connection[NodeT]:
        """A page of rows, each rendered by ``node``."""
        return Connection(edges=_edges(page, node), page_info=PageInfo.of(page))


@strawberry.type
class TotalCount:
    """The ``totalCount`` of a connection, counted only when selected."""

    _counted: strawberry.Private[CountedPage[Any]]

    @strawberry.field
    async def total_count(self) -> int:
        return await self._counted.total_count()


@strawberry.type(name="Connection")
class CountedConnection(TotalCount, Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo

    @classmethod
    def of(
        cls, counted: CountedPage[RowT], node: Callable[[RowT], NodeT]
    ) -> CountedConnection[NodeT]:
        """A page of a listing, each row rendered by ``node``, and its count."""
        page = counted.page
        return CountedConnection(
            edges=_edges(page, node), page_info=PageInfo.of(page), _counted=counted
        )


def window(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest:
    """The Relay arguments of a connection field, cursors decoded
    (BAD_USER_INPUT for one this server could not have issued)."""
    return PageRequest(
        first=first,
        after=decode_cursor(after, "after"),
        last=last,
        before=decode_cursor(before, "before"),
    )
