"""Keyset paging over an ordered id: Relay cursors and plain limits.

Pages never use OFFSET: ``id > after`` / ``id < before`` with a limit costs
the same on page 1 and page 10,000.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar, overload

from tortoise.models import Model
from tortoise.queryset import QuerySet

from core.errors import BadUserInput
from resolvers import limits, validation
from resolvers.validation import MAX_INT32

# ?order= of the legacy listings that take one: id ascending or descending.
ORDERS = {"asc": "id", "desc": "-id"}
M = TypeVar("M", bound=Model)
T = TypeVar("T")
# How a page's rows are read from its ordered, limited queryset: model
# objects by default; read-only listings pass a reader of plain rows
# (``QuerySet.values``), which skips building model objects.
Read = Callable[[QuerySet[Any]], Awaitable[Sequence[Any]]]


@dataclass(frozen=True, slots=True)
class Slice:
    """The rows a page reads once its rules are applied: ids after and
    before, the order, how many and from where (:func:`slice_of`)."""

    limit: int
    descending: bool = False
    after: int | None = None
    before: int | None = None
    offset: int | None = None


# A listing may read its slices itself rather than from the queryset, e.g.
# through a prepared statement (``models.prepared``); it reads the same
# rows as ``read(slice_of(queryset, slice))``.
SliceRead = Callable[[Slice], Awaitable[Sequence[Any]]]


def slice_of(queryset: QuerySet[M], rows: Slice) -> QuerySet[M]:
    """``queryset`` narrowed to ``rows``."""
    if rows.after is not None:
        queryset = queryset.filter(id__gt=rows.after)
    if rows.before is not None:
        queryset = queryset.filter(id__lt=rows.before)
    queryset = queryset.order_by("-id" if rows.descending else "id")
    if rows.offset:
        queryset = queryset.offset(rows.offset)
    return queryset.limit(rows.limit)


async def _models(queryset: QuerySet[Any]) -> Sequence[Any]:
    return list(await queryset)


@dataclass(slots=True)
class Page(Generic[T]):
    items: list[T]
    has_next: bool
    has_previous: bool


@dataclass(slots=True)
class CountedPage(Generic[T]):
    """A page of a filtered listing and the listing itself, counted on demand
    (a COUNT(*) only when a client asks for ``totalCount``)."""

    page: Page[T]
    matching: QuerySet[Any]

    async def total_count(self) -> int:
        return await self.matching.count()


class PageRequest(TypedDict, total=False):
    """Which page of a listing: the Relay arguments, ids decoded, as the
    listing resolvers take them (``**page: Unpack[PageRequest]``)."""

    first: int | None
    after: int | None
    last: int | None
    before: int | None


async def counted_page(
    queryset: QuerySet[M],
    page: PageRequest,
    *,
    default_first: int,
    default_last: int | None = None,
    read: Read = _models,
    read_slice: SliceRead | None = None,
    prefetch: tuple[str, ...] = (),
) -> CountedPage[Any]:
    """The asked :func:`keyset_page` of ``queryset`` (its rows loaded with
    ``prefetch``), and ``queryset`` to count: every counted listing pages so."""
    rows = queryset.prefetch_related(*prefetch) if prefetch else queryset
    found = await keyset_page(
        rows,
        **page,
        default_first=default_first,
        default_last=default_last,
        read=read,
        read_slice=read_slice,
    )
    return CountedPage(found, queryset)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def encode_cursor(row_id: int) -> str:
    # base64.urlsafe_b64encode, without its two Python calls per cursor.
    raw = binascii.b2a_base64(f"c:{row_id}".encode(), newline=False)
    return raw.translate(_URLSAFE).decode("ascii")


def decode_cursor(cursor: str | None, field: str) -> int | None:
    """The row id inside a cursor; BAD_USER_INPUT for anything this server
    could not have issued, including ids beyond the 32-bit id columns (which
    PostgreSQL would refuse to compare with)."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
        prefix, _, number = raw.partition(":")
        if prefix != "c" or not number.isdigit() or len(number) > len(str(MAX_INT32)):
            raise ValueError(cursor)
        row_id = int(number)
    except (ValueError, UnicodeError, binascii.Error):
        raise BadUserInput(f"{field} is not a valid cursor.", field=field) from None
    if row_id > MAX_INT32:
        raise BadUserInput(f"{field} is not a valid cursor.", field=field)
    return row_id


def page_size(value: int | None, field: str, *, maximum: int = limits.MAX_PAGE) -> int | None:
    """Negative sizes are refused; sizes over the maximum are clamped."""
    if value is None:
        return None
    if value < 0:
        raise BadUserInput(f"{field} must not be negative.", field=field)
    return min(value, maximum)


@dataclass(frozen=True, slots=True)
class Window:
    """A history page asked by ``limit``/``before``/``after`` (REST, chat WS).

    ``before`` (with or without ``after``): the ``limit`` items just before
    it (and after ``after``); only ``after``: the ``limit`` items just after
    it; neither: the last ``limit``. A negative ``limit`` is refused, as
    ``first``/``last`` are; the default and the maximum are the caller's.
    """

    first: int | None
    last: int | None
    after: int | None
    before: int | None

    @classmethod
    def of(cls, limit: int | None, *, before: int | None, after: int | None) -> Window:
        size = page_size(limit, "limit", maximum=2**31 - 1)
        if after is not None and before is None:
            return cls(first=size, last=None, after=after, before=None)
        return cls(first=None, last=size, after=after, before=before)

    @property
    def forward(self) -> bool:
        return self.first is not None or (self.after is not None and self.before is None)

    def has_more(self, page: Page[Any]) -> bool:
        """Whether more items lie beyond the page, in the window's direction."""
        return page.has_next if self.forward else page.has_previous

    def args(self) -> dict[str, int | None]:
        return {"first": self.first, "last": self.last, "after": self.after, "before": self.before}


async def keyset_page(
    queryset: QuerySet[M],
    *,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
    default_first: int | None = None,
    default_last: int | None = None,
    maximum: int = limits.MAX_PAGE,
    read: Read = _models,
    read_slice: SliceRead | None = None,
) -> Page[Any]:
    """One page of ``queryset`` ordered by id ascending.

    With ``first`` (or no size and ``default_first``) it reads forward from
    ``after``; with ``last`` it reads backward from ``before``. Items always
    come oldest first. Rows are ``read`` from the narrowed queryset, or
    ``read_slice`` reads them itself.
    """

    async def fetch(rows: Slice) -> list[Any]:
        if read_slice is not None:
            return list(await read_slice(rows))
        return list(await read(slice_of(queryset, rows)))

    first = page_size(first, "first", maximum=maximum)
    last = page_size(last, "last", maximum=maximum)
    if first is not None and last is not None:
        raise BadUserInput("Pass either first or last, not both.", field="last")
    if first is None and last is None:
        if default_last is not None and after is None:
            last = default_last
        else:
            first = default_first if default_first is not None else maximum
    if last is not None:
        rows = await fetch(Slice(last + 1, descending=True, after=after, before=before))
        has_previous = len(rows) > last
        items = rows[:last][::-1]
        has_next = before is not None and await queryset.filter(id__gte=before).exists()
        return Page(items, has_next, has_previous)
    assert first is not None
    rows = await fetch(Slice(first + 1, after=after, before=before))
    has_next = len(rows) > first
    items = rows[:first]
    has_previous = after is not None and await queryset.filter(id__lte=after).exists()
    return Page(items, has_next, has_previous)


def parse_order(value: object, default: str) -> str:
    """An ``?order=`` value (``asc`` or ``desc``), else BAD_USER_INPUT."""
    if value is None:
        return default
    if value not in ORDERS:
        raise BadUserInput(f"order must be one of {', '.join(ORDERS)}.", field="order")
    assert isinstance(value, str)
    return value


async def offset_page(
    queryset: QuerySet[M],
    *,
    limit: int | None = None,
    offset: int | None = None,
    order: str = "asc",
    read: Read = _models,
    read_slice: SliceRead | None = None,
) -> list[Any]:
    """The legacy REST listings: ``limit`` (default ``OFFSET_LIMIT_DEFAULT``,
    clamped to ``OFFSET_LIMIT_MAX``) rows from ``offset``, ordered by id
    (``order``, see :data:`ORDERS`). Negative values are refused."""
    limit = limits.OFFSET_LIMIT_DEFAULT if limit is None else limit
    offset = 0 if offset is None else offset
    if limit < 0 or offset < 0:
        raise BadUserInput("limit and offset must not be negative.", field="limit")
    limit = min(limit, limits.OFFSET_LIMIT_MAX)
    offset = min(offset, limits.MAX_OFFSET)
    if limit == 0:  # nothing to read (and Tortoise's values() drops a LIMIT of 0)
        return []
    rows = Slice(limit, descending=ORDERS[order] == "-id", offset=offset)
    if read_slice is not None:
        return list(await read_slice(rows))
    return list(await read(slice_of(queryset, rows)))


def check_after(value: object, field: str = "after") -> int:
    """Where a live feed or a list resumes: a row id (an integer or a string
    of digits) or a cursor that a query returned; 0 means from the start."""
    if value is None:
        return 0
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.lstrip("-").isdigit() and len(text) <= 11:
            value = int(text)
        else:
            value = decode_cursor(text, field)
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise BadUserInput(f"{field} must not be negative.", field=field)
    return validation.non_negative_int(value, field)


def check_cursor(value: int | None, field: str) -> int | None:
    """A row id bounding a page (``after``/``before``): never negative."""
    if value is None:
        return None
    return validation.non_negative_int(value, field)


@overload
async def history_page(
    queryset: QuerySet[M],
    *,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
    read_slice: None = None,
) -> Page[M]: ...


@overload
async def history_page(
    queryset: QuerySet[M],
    *,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
    read_slice: Callable[[Slice], Awaitable[Sequence[T]]],
) -> Page[T]: ...


async def history_page(
    queryset: QuerySet[M],
    *,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
    read_slice: SliceRead | None = None,
) -> Page[Any]:
    """A page of a conversation's history (a room's or a DM pair's), oldest
    first: the last HISTORY_DEFAULT by default, at most HISTORY_MAX (larger
    sizes are clamped, negative ones refused). Its items are the queryset's
    objects, or what ``read_slice`` reads."""
    page: Page[Any] = await keyset_page(
        queryset,
        first=first,
        after=check_cursor(after, "after"),
        last=last,
        before=check_cursor(before, "before"),
        default_last=limits.HISTORY_DEFAULT,
        maximum=limits.HISTORY_MAX,
        read_slice=read_slice,
    )
    return page
