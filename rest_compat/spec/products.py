"""OpenAPI description of the REST products paths (handlers: ``rest_compat.products``)."""

from __future__ import annotations

from typing import Any

from resolvers import limits, permissions
from resolvers.permissions import Action
from rest_compat.spec import common as oa

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
    "name": {"type": "string", "minLength": 1, "maxLength": limits.PRODUCT_NAME_MAX},
    "description": {"type": "string", "maxLength": limits.PRODUCT_DESCRIPTION_MAX},
    "price": {"type": "number", "minimum": 0},
    "stock": {"type": "integer", "minimum": 0},
}
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_NOT_FOUND = oa.error("404", "No such product")
_WRITE = f" ({permissions.who(Action.PRODUCT_WRITE)})"
_ADMIN = {**oa.AUTH_ERRORS, **oa.error("403", permissions.refusal(Action.PRODUCT_WRITE))}
OPENAPI: dict[str, Any] = {
    "schemas": {
        "Product": oa.with_example(
            _PRODUCT,
            {
                "id": 1,
                "name": "Espresso cup",
                "description": "A 90 ml porcelain cup.",
                "price": 7.5,
                "stock": 120,
                "created_at": oa.WHEN,
                "updated_at": oa.WHEN,
            },
        )
    },
    "paths": {
        "/products": {
            "get": {
                "operationId": "listProducts",
                "summary": "List products",
                "parameters": [
                    *oa.PAGING,
                    {
                        "name": "q",
                        "in": "query",
                        "description": "Search in name and description",
                        "schema": {"type": "string"},
                        "example": "cup",
                    },
                ],
                "responses": {
                    **oa.ok("200", {"type": "array", "items": oa.ref("Product")}),
                    **oa.error("422", "Invalid paging"),
                },
            },
            "post": {
                "operationId": "createProduct",
                "summary": "Create a product" + _WRITE,
                "security": oa.BEARER,
                "requestBody": oa.json_body(
                    {"type": "object", "required": ["name", "price"], "properties": _FIELDS},
                    example={"name": "Mug", "description": "Stoneware.", "price": 12.5, "stock": 3},
                ),
                "responses": {**oa.ok("201", oa.ref("Product")), **oa.COMMON_ERRORS, **_ADMIN},
            },
        },
        "/products/{id}": {
            "get": {
                "operationId": "getProduct",
                "summary": "One product",
                "parameters": _ID,
                "responses": {
                    **oa.ok("200", oa.ref("Product")),
                    **_NOT_FOUND,
                    **oa.error("422", "Invalid id"),
                },
            },
            "patch": {
                "operationId": "updateProduct",
                "summary": "Update a product" + _WRITE,
                "security": oa.BEARER,
                "parameters": _ID,
                "requestBody": oa.json_body(
                    {"type": "object", "properties": _FIELDS}, example={"price": 6.9, "stock": 80}
                ),
                "responses": {
                    **oa.ok("200", oa.ref("Product")),
                    **oa.COMMON_ERRORS,
                    **_ADMIN,
                    **_NOT_FOUND,
                },
            },
            "delete": {
                "operationId": "deleteProduct",
                "summary": "Delete a product" + _WRITE,
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
