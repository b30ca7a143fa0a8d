"""The HTTP baselines, each at its best, in one server on the bench database.

``python -m bench.baseline_rest --db URL --port N`` serves:

- ``/tortoise/products``: a bare Starlette route reading 50 products with
  Tortoise, with the same C timestamp parsing as Comptoir
  (``models.fields.DatetimeField``), answering the JSON of ``GET /products``;
- ``/raw/products`` and ``/raw/chat``: the same JSON as ``GET /products`` and
  ``GET /chat/rooms/general/messages`` straight from the driver (aiosqlite,
  or asyncpg on PostgreSQL), no ORM, no validation: the practical limit of a
  Python server on this data. The chat page does the same checks as
  Comptoir's (the bearer token's signature and claims, its session open and
  its user active, in one query) so that the limit is for the same work;
- ``/graphql``: plain Strawberry over Tortoise with the parser and validation
  caches on, the schema a tutorial would write for the same
  ``products(first:) { edges { node { ... } } }`` shape: what Comptoir's own
  layers (limits, errors, authentication, context) cost beside it.

Uvicorn with its defaults (uvloop, httptools), like Comptoir.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import jwt
import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache
from tortoise import Tortoise, fields
from tortoise.models import Model

from bench.common import JWT_SECRET
from models.fields import DatetimeField

ROWS = 50
ROOM = "general"


class Product(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    description = fields.TextField()
    price = fields.DecimalField(max_digits=12, decimal_places=2)
    stock = fields.IntField()
    created_at = DatetimeField(auto_now_add=True)
    updated_at = DatetimeField(auto_now=True)

    class Meta:
        table = "products"


def _iso(value: datetime) -> str:
    return value.isoformat()


async def tortoise_products(request: Request) -> Response:
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


# --------------------------------------------------------------------------- raw driver

PRODUCTS_SQL = (
    "SELECT id, name, description, price, stock, created_at, updated_at "
    "FROM products ORDER BY id LIMIT {n}"
)
CHAT_SQL = (
    "SELECT m.id, r.name, r.id, m.author_id, m.content, m.created_at, m.client_id "
    "FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = {p} "
    "ORDER BY m.id DESC LIMIT {n}"
)


def _ts(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).isoformat())


class Raw:
    """One driver connection (SQLite) or a small pool (PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite: Any = None
        self.pool: Any = None

    async def open(self) -> None:
        if self.url.startswith("sqlite://"):
            import aiosqlite

            self.sqlite = await aiosqlite.connect(self.url[len("sqlite://") :])
        else:
            import asyncpg

            self.pool = await asyncpg.create_pool(
                "postgresql://" + self.url.split("://", 1)[1], min_size=1, max_size=5
            )

    async def close(self) -> None:
        if self.sqlite is not None:
            await self.sqlite.close()
        if self.pool is not None:
            await self.pool.close()

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        if self.sqlite is not None:
            sql = sql.format(p="?", n=ROWS)
            async with self.sqlite.execute(sql, args) as cursor:
                return list(await cursor.fetchall())
        sql = sql.format(p="$1", n=ROWS)
        return list(await self.pool.fetch(sql, *args))


RAW = Raw("")


async def raw_products(request: Request) -> Response:
    rows = await RAW.fetch(PRODUCTS_SQL)
    return JSONResponse(
        [
            {
                "id": r[0],
                "name": r[1],
                "description": r[2],
                "price": float(r[3]),
                "stock": r[4],
                "created_at": _ts(r[5]),
                "updated_at": _ts(r[6]),
            }
            for r in rows
        ]
    )


SESSION_SQL = (
    "SELECT u.id, u.is_active, s.revoked_at FROM auth_sessions s "
    "JOIN users u ON u.id = s.user_id WHERE s.id = {p}"
)


async def raw_chat(request: Request) -> Response:
    header = request.headers.get("authorization", "")
    try:
        claims = jwt.decode(
            header.removeprefix("Bearer "),
            JWT_SECRET,
            algorithms=["HS256"],
            audience="comptoir",
            issuer="comptoir",
        )
    except jwt.PyJWTError:
        return JSONResponse({"code": "UNAUTHENTICATED"}, status_code=401)
    session = await RAW.fetch(SESSION_SQL, claims["sid"])
    if not session or session[0][2] is not None or not session[0][1]:
        return JSONResponse({"code": "UNAUTHENTICATED"}, status_code=401)
    if session[0][0] != int(claims["sub"]):
        return JSONResponse({"code": "UNAUTHENTICATED"}, status_code=401)
    rows = await RAW.fetch(CHAT_SQL, ROOM)
    return JSONResponse(
        [
            {
                "id": r[0],
                "room": r[1],
                "room_id": r[2],
                "from_user": r[3],
                "content": r[4],
                "timestamp": _ts(r[5]),
                "client_id": r[6],
            }
            for r in reversed(rows)
        ]
    )


# --------------------------------------------------------------------------- plain Strawberry


@strawberry.type
class ProductNode:
    id: strawberry.ID
    name: str
    description: str
    price: Decimal
    stock: int
    created_at: datetime
    updated_at: datetime


@strawberry.type
class ProductEdge:
    node: ProductNode


@strawberry.type
class ProductConnection:
    edges: list[ProductEdge]


@strawberry.type
class Query:
    @strawberry.field
    async def products(self, first: int = 50) -> ProductConnection:
        rows = await Product.all().order_by("id").limit(min(first, 100))
        return ProductConnection(
            edges=[
                ProductEdge(
                    node=ProductNode(
                        id=strawberry.ID(str(r.id)),
                        name=r.name,
                        description=r.description,
                        price=r.price,
                        stock=r.stock,
                        created_at=r.created_at,
                        updated_at=r.updated_at,
                    )
                )
                for r in rows
            ]
        )


SCHEMA = strawberry.Schema(query=Query, extensions=[ParserCache, ValidationCache])


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def build(database_url: str) -> Starlette:
    global RAW
    RAW = Raw(database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await Tortoise.init(
            db_url=database_url,
            modules={"models": [__name__]},
            use_tz=True,
            timezone="UTC",
            _enable_global_fallback=True,
        )
        await RAW.open()
        try:
            yield
        finally:
            await RAW.close()
            await Tortoise.close_connections()

    return Starlette(
        routes=[
            Route("/tortoise/products", tortoise_products),
            Route("/raw/products", raw_products),
            Route("/raw/chat", raw_chat),
            Route("/graphql", GraphQL(SCHEMA, graphql_ide=None)),
            Route("/health", health),
        ],
        lifespan=lifespan,
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
