"""Products on GraphQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from models import Product as ProductRow
from resolvers import limits, permissions, products
from resolvers.permissions import Action
from resolvers.products import ProductView
from resolvers.response_cache import CATALOGUE_READ
from resolvers.validation import parse_id
from schema.context import Info
from schema.pagination import CountedConnection, window


@strawberry.type
class Product:
    id: strawberry.ID
    name: str
    description: str
    price: Decimal
    stock: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: ProductRow | ProductView) -> Product:
        # The dataclass's own state, set in one step: no keyword call per row
        # (a page of 50 nodes built 50 times through ``__init__``). The id
        # is its text, as ``strawberry.ID`` (a NewType of str) leaves it.
        node = _new(cls)
        node.__dict__ = {
            "id": str(row.id),
            "name": row.name,
            "description": row.description,
            "price": row.price,
            "stock": row.stock,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
        return node


_new = object.__new__


@strawberry.input
class ProductInput:
    name: str = strawberry.field(description=f"1..{limits.PRODUCT_NAME_MAX} characters")
    price: Decimal = strawberry.field(
        description=f">= 0, at most {limits.PRICE_DECIMALS} decimal places"
    )
    description: str = ""
    stock: int = strawberry.field(default=0, description=">= 0")


@strawberry.input
class ProductUpdateInput:
    name: str | None = None
    description: str | None = None
    price: Decimal | None = None
    stock: int | None = None


@strawberry.type
class ProductQueries:
    @strawberry.field(description="Public.", metadata=CATALOGUE_READ)
    async def products(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        search: str | None = None,
    ) -> CountedConnection[Product]:
        result = await products.list_products(search=search, **window(first, after, last, before))
        return CountedConnection.of(result, Product.from_row)

    @strawberry.field(description="Public.", metadata=CATALOGUE_READ)
    async def product(self, id: strawberry.ID) -> Product | None:
        row = await products.find_product(product_id=parse_id(id))
        return Product.from_row(row) if row else None


_INPUT_FIELDS = ("name", "description", "price", "stock")


def _fields(input: ProductInput | ProductUpdateInput) -> dict[str, Any]:
    """An input's fields as the resolver's keywords (unset ones included)."""
    return {name: getattr(input, name) for name in _INPUT_FIELDS}


@strawberry.type
class ProductMutations:
    @strawberry.mutation(description=permissions.describe(Action.PRODUCT_WRITE))
    async def create_product(self, info: Info, input: ProductInput) -> Product:
        row = await products.create_product(
            writer=products.writer(info.context.user), **_fields(input)
        )
        return Product.from_row(row)

    @strawberry.mutation(description=permissions.describe(Action.PRODUCT_WRITE))
    async def update_product(
        self, info: Info, id: strawberry.ID, input: ProductUpdateInput
    ) -> Product:
        row = await products.update_product(
            product_id=parse_id(id), writer=products.writer(info.context.user), **_fields(input)
        )
        return Product.from_row(row)

    @strawberry.mutation(description=permissions.describe(Action.PRODUCT_WRITE))
    async def delete_product(self, info: Info, id: strawberry.ID) -> bool:
        return await products.delete_product(
            product_id=parse_id(id), writer=products.writer(info.context.user)
        )
