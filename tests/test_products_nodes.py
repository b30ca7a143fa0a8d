"""A GraphQL product node built from a row is the one its constructor builds."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import strawberry

from resolvers.products import ProductView
from schema.products import Product


def test_node_from_row_is_the_constructed_node() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    row = ProductView(7, "Tea", "Green", Decimal("3.50"), 4, at, at)
    built = Product(
        id=strawberry.ID("7"),
        name="Tea",
        description="Green",
        price=Decimal("3.50"),
        stock=4,
        created_at=at,
        updated_at=at,
    )
    node = Product.from_row(row)
    assert node == built
    assert vars(node) == vars(built)
    assert list(vars(node)) == [f.name for f in dataclasses.fields(Product)]
