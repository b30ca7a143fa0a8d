"""Products: public reads; writes need a :class:`Writer` (``Action.PRODUCT_WRITE``).

A door gets the writer from :func:`writer` (the one permission check)
before it reads any input, so a refused caller learns nothing of its
input's validity, whichever door it uses.

Every write goes through :func:`resolvers.response_cache.catalogue_write`
once its input is valid: the catalogue's version moves before the door
acknowledges it, and a ``ProductChanged`` event follows on the catalogue
channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple, Unpack

from tortoise.expressions import Q
from tortoise.queryset import QuerySet, ValuesQuery

from core.errors import NotFound
from models import Product, User
from models.prepared import Prepared
from resolvers import limits, permissions, validation
from resolvers.catalogue_events import CREATED, DELETED, UPDATED
from resolvers.pagination import (
    CountedPage,
    PageRequest,
    Slice,
    SliceRead,
    counted_page,
    offset_page,
    slice_of,
)
from resolvers.permissions import Action
from resolvers.response_cache import catalogue_write


class ProductView(NamedTuple):
    """A product as listings read it: a plain read-only row, no model object
    to build (a tuple: built from a row's values in one C call)."""

    id: int
    name: str
    description: str
    price: Decimal
    stock: int
    created_at: datetime
    updated_at: datetime


_VIEW_FIELDS = ProductView._fields
_view_values = itemgetter(*_VIEW_FIELDS)
_tuple = tuple.__new__


def _to_views(rows: list[dict[str, Any]]) -> list[ProductView]:
    """The views of ``values(*_VIEW_FIELDS)`` rows: each row's values in
    field order, no keyword call per row."""
    return [_tuple(ProductView, _view_values(row)) for row in rows]


async def _views(queryset: QuerySet[Any]) -> Sequence[ProductView]:
    return _to_views(await queryset.values(*_VIEW_FIELDS))


def _listing(descending: bool, **rows: int) -> ValuesQuery[Any]:
    return slice_of(Product.all(), Slice(descending=descending, **rows)).values(*_VIEW_FIELDS)


# The whole listing (no search) is read through one prepared statement per
# page shape: Tortoise renders its SQL once, not on every request.
_LISTING = Prepared(Product, _listing)


async def _listing_views(rows: Slice) -> Sequence[ProductView]:
    found = await _LISTING.rows(
        rows.descending,
        limit=rows.limit,
        after=rows.after,
        before=rows.before,
        offset=rows.offset or None,
    )
    return _to_views(found)


@dataclass(frozen=True, slots=True)
class Writer:
    """Leave to change products, made only by :func:`writer`."""

    user: User


def writer(actor: User | None) -> Writer:
    return Writer(permissions.require(Action.PRODUCT_WRITE, actor))


def _search(search: str | None) -> tuple[QuerySet[Product], SliceRead | None]:
    """The products matching ``search``, and how to read their slices
    (prepared for the whole listing)."""
    queryset = Product.all()
    if search:
        term = validation.text(search, "search", max_len=limits.PRODUCT_SEARCH_MAX, strip=True)
        if term:
            matching = Q(name__icontains=term) | Q(description__icontains=term)
            return queryset.filter(matching), None
    return queryset, _listing_views


async def list_products(
    *, search: str | None = None, **page: Unpack[PageRequest]
) -> CountedPage[ProductView]:
    queryset, read_slice = _search(search)
    return await counted_page(
        queryset,
        page,
        default_first=limits.PRODUCTS_PAGE_DEFAULT,
        read=_views,
        read_slice=read_slice,
    )


async def list_products_offset(
    *, limit: int | None = None, offset: int | None = None, search: str | None = None
) -> list[ProductView]:
    """The legacy REST listing: offset paging, ordered by id."""
    queryset, read_slice = _search(search)
    return await offset_page(
        queryset, limit=limit, offset=offset, read=_views, read_slice=read_slice
    )


async def find_product(*, product_id: int) -> Product | None:
    return await Product.get_or_none(id=product_id)


async def get_product(*, product_id: int) -> Product:
    product = await find_product(product_id=product_id)
    if product is None:
        raise NotFound("Product not found.")
    return product


async def create_product(
    *,
    writer: Writer,
    name: object,
    description: object = "",
    price: object,
    stock: object = 0,
) -> Product:
    fields: dict[str, Any] = {
        "name": validation.single_line(name, "name", max_len=limits.PRODUCT_NAME_MAX),
        "description": validation.text(
            description, "description", max_len=limits.PRODUCT_DESCRIPTION_MAX
        ),
        "price": validation.money(price),
        "stock": validation.non_negative_int(stock, "stock"),
    }
    async with catalogue_write() as write:
        product = await Product.create(**fields)
        write.changed(product.id, CREATED)
    return product


async def update_product(
    *,
    writer: Writer,
    product_id: int,
    name: object = None,
    description: object = None,
    price: object = None,
    stock: object = None,
) -> Product:
    changes: dict[str, str | Decimal | int] = {}
    if name is not None:
        changes["name"] = validation.single_line(name, "name", max_len=limits.PRODUCT_NAME_MAX)
    if description is not None:
        changes["description"] = validation.text(
            description, "description", max_len=limits.PRODUCT_DESCRIPTION_MAX
        )
    if price is not None:
        changes["price"] = validation.money(price)
    if stock is not None:
        changes["stock"] = validation.non_negative_int(stock, "stock")
    if not changes:
        return await get_product(product_id=product_id)
    async with catalogue_write() as write:
        product = await get_product(product_id=product_id)
        product.update_from_dict(changes)
        await product.save()
        write.changed(product.id, UPDATED)
    return product


async def delete_product(*, writer: Writer, product_id: int) -> bool:
    async with catalogue_write() as write:
        deleted = await Product.filter(id=product_id).delete()
        if deleted:
            write.changed(product_id, DELETED)
    if not deleted:
        raise NotFound("Product not found.")
    return True
