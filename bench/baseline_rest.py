"""The REST baseline: a bare Starlette route reading 50 products with Tortoise.

Same libraries as Comptoir used raw (Starlette, Tortoise ORM, uvicorn with
its default uvloop/httptools), the same database file, and the same JSON
shape as ``GET /products``, but no middleware, no resolver layer and no
validation. ``python -m bench.baseline_rest --db URL --port N``.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise import Tortoise, fields
from tortoise.models import Model

ROWS = 50


class Product(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    description = fields.TextField()
    price = fields.DecimalField(max_digits=12, decimal_places=2)
    stock = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "products"


def _iso(value: datetime) -> str:
    return value.isoformat()


async def products(request: Request) -> Response:
    rows = await Product.all().order_by("id").limit(ROWS)
    body: list[dict[str, Any]] = [
        {
            "id": r.id,
            "name": r.name,
            "description": r.description,
            "price": float(r.price),
            "stock": r.stock,
            "created_at": _iso(r.created_at),
            "updated_at": _iso(r.updated_at),
        }
        for r in rows
    ]
    return JSONResponse(body)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def build(database_url: str) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await Tortoise.init(
            db_url=database_url,
            modules={"models": [__name__]},
            use_tz=True,
            timezone="UTC",
            _enable_global_fallback=True,
        )
        try:
            yield
        finally:
            await Tortoise.close_connections()

    return Starlette(
        routes=[Route("/products", products), Route("/health", health)], lifespan=lifespan
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        build(args.db),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        lifespan="on",
        server_header=False,
    )


if __name__ == "__main__":
    main()
