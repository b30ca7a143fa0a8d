"""REST: /products."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import etag
from models import Product
from resolvers import products, response_cache
from resolvers.products import ProductView
from resolvers.validation import parse_id
from rest_compat.http import (
    JSONResponse,
    current_user,
    json_object,
    list_response,
    query_int,
    required,
)

WRITABLE = ("name", "description", "price", "stock")


def product_body(row: Product | ProductView) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        # 2 decimals and at most 12 digits: a float prints back the same digits.
        "price": float(row.price),
        "stock": row.stock,
        # isoformat itself rather than ``iso``: a call less per timestamp.
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


async def list_products(request: Request) -> Response:
    # The catalogue listing, the same for every caller (no viewer is read),
    # cached per value of every parameter it reads.
    params = tuple(request.query_params.get(p) for p in ("limit", "offset", "q"))
    cached = await response_cache.lookup(("rest /products", *params, response_cache.ANYONE))
    if cached is not None and cached.body is not None:
        return _with_state(request, cached.state, cached.body)
    rows = await products.list_products_offset(
        limit=query_int(request, "limit"),
        offset=query_int(request, "offset"),
        search=request.query_params.get("q"),
    )
    if cached is None:
        return list_response(request, [product_body(r) for r in rows])
    body = bytes(JSONResponse([product_body(r) for r in rows]).body)
    cached.store(body)
    return _with_state(request, cached.state, body)


def _with_state(request: Request, state: str, body: bytes) -> Response:
    response = Response(body, media_type="application/json")
    response.headers[etag.CACHE_HEADER] = state
    return etag.conditional(request, response)


async def get_product(request: Request) -> Response:
    row = await products.get_product(product_id=parse_id(request.path_params["id"]))
    return JSONResponse(product_body(row))


async def create_product(request: Request) -> Response:
    # The resolver's check, before the body is read: a refused caller gets
    # 401/403 whatever it sent.
    writer = products.writer(await current_user(request))
    body = await json_object(request)
    row = await products.create_product(
        writer=writer,
        name=required(body, "name"),
        description=body.get("description", ""),
        price=required(body, "price"),
        stock=body.get("stock", 0),
    )
    return JSONResponse(product_body(row), status_code=201)


async def update_product(request: Request) -> Response:
    writer = products.writer(await current_user(request))
    product_id = parse_id(request.path_params["id"])
    body = await json_object(request)
    row = await products.update_product(
        writer=writer, product_id=product_id, **{k: body[k] for k in WRITABLE if k in body}
    )
    return JSONResponse(product_body(row))


async def delete_product(request: Request) -> Response:
    actor = await current_user(request)
    product_id = parse_id(request.path_params["id"])
    await products.delete_product(writer=products.writer(actor), product_id=product_id)
    return Response(status_code=204)


routes = [
    Route("/products", list_products, methods=["GET"]),
    Route("/products", create_product, methods=["POST"]),
    Route("/products/{id}", get_product, methods=["GET"]),
    Route("/products/{id}", update_product, methods=["PATCH"]),
    Route("/products/{id}", delete_product, methods=["DELETE"]),
]
