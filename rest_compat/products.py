"""REST: /products."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from models import Product
from resolvers import products
from resolvers.products import ProductView
from resolvers.validation import parse_id
from rest_compat import openapi as oa
from rest_compat.http import current_user, iso, json_object, list_response, query_int, required

WRITABLE = ("name", "description", "price", "stock")


def product_body(row: Product | ProductView) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        # 2 decimals and at most 12 digits: a float prints back the same digits.
        "price": float(row.price),
        "stock": row.stock,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


async def list_products(request: Request) -> Response:
    rows = await products.list_products_offset(
        limit=query_int(request, "limit"),
        offset=query_int(request, "offset"),
        search=request.query_params.get("q"),
    )
    return list_response(request, [product_body(r) for r in rows])


async def get_product(request: Request) -> Response:
    row = await products.get_product(product_id=parse_id(request.path_params["id"]))
    return JSONResponse(product_body(row))


async def create_product(request: Request) -> Response:
    actor = await current_user(request)
    products.require_admin(actor)
    body = await json_object(request)
    row = await products.create_product(
        actor=actor,
        name=required(body, "name"),
        description=body.get("description", ""),
        price=required(body, "price"),
        stock=body.get("stock", 0),
    )
    return JSONResponse(product_body(row), status_code=201)


async def update_product(request: Request) -> Response:
    actor = await current_user(request)
    products.require_admin(actor)
    product_id = parse_id(request.path_params["id"])
    body = await json_object(request)
    row = await products.update_product(
        actor=actor, product_id=product_id, **{k: body[k] for k in WRITABLE if k in body}
    )
    return JSONResponse(product_body(row))


async def delete_product(request: Request) -> Response:
    await products.delete_product(
        actor=await current_user(request), product_id=parse_id(request.path_params["id"])
    )
    return Response(status_code=204)


routes = [
    Route("/products", list_products, methods=["GET"]),
    Route("/products", create_product, methods=["POST"]),
    Route("/products/{id}", get_product, methods=["GET"]),
    Route("/products/{id}", update_product, methods=["PATCH"]),
    Route("/products/{id}", delete_product, methods=["DELETE"]),
]


_PRODUCT = {
    "type": "object",
    "required": ["id", "name", "description", "price", "stock", "created_at", "updated_at"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "price": {"type": "number"},
        "stock": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": {"type": "string"},
    "price": {"type": "number", "minimum": 0},
    "stock": {"type": "integer", "minimum": 0},
}
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_NOT_FOUND = oa.error("404", "No such product")
_ADMIN = {**oa.AUTH_ERRORS, **oa.error("403", "Not an ADMIN")}
OPENAPI: dict[str, Any] = {
    "schemas": {"Product": _PRODUCT},
    "paths": {
        "/products": {
            "get": {
                "summary": "List products",
                "parameters": [
                    *oa.PAGING,
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    **oa.ok("200", {"type": "array", "items": oa.ref("Product")}),
                    **oa.error("422", "Invalid paging"),
                },
            },
            "post": {
                "summary": "Create a product (ADMIN)",
                "security": oa.BEARER,
                "requestBody": oa.json_body(
                    {"type": "object", "required": ["name", "price"], "properties": _FIELDS}
                ),
                "responses": {**oa.ok("201", oa.ref("Product")), **oa.COMMON_ERRORS, **_ADMIN},
            },
        },
        "/products/{id}": {
            "get": {
                "summary": "One product",
                "parameters": _ID,
                "responses": {
                    **oa.ok("200", oa.ref("Product")),
                    **_NOT_FOUND,
                    **oa.error("422", "Invalid id"),
                },
            },
            "patch": {
                "summary": "Update a product (ADMIN)",
                "security": oa.BEARER,
                "parameters": _ID,
                "requestBody": oa.json_body({"type": "object", "properties": _FIELDS}),
                "responses": {
                    **oa.ok("200", oa.ref("Product")),
                    **oa.COMMON_ERRORS,
                    **_ADMIN,
                    **_NOT_FOUND,
                },
            },
            "delete": {
                "summary": "Delete a product (ADMIN)",
                "security": oa.BEARER,
                "parameters": _ID,
                "responses": {
                    "204": {"description": "Deleted"},
                    **_ADMIN,
                    **_NOT_FOUND,
                    **oa.error("422", "Invalid id"),
                },
            },
        },
    },
}
