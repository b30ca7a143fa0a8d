"""Pieces shared by the OpenAPI descriptions of ``rest_compat.spec``."""

from __future__ import annotations

from typing import Any

from resolvers import limits


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def error(status: str, description: str) -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": ref("Error")}},
        }
    }


def json_body(
    schema: dict[str, Any], required: bool = True, example: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A JSON request body; ``example`` fills /docs' "Try it out"."""
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"required": required, "content": {"application/json": media}}


def with_example(schema: dict[str, Any], *examples: Any) -> dict[str, Any]:
    """``schema`` with JSON Schema ``examples`` (shown for responses in /docs)."""
    return {**schema, "examples": list(examples)}


# Real values, as the demo data (`make run`) answers them.
WHEN = "2026-11-27T09:30:00.123456+00:00"
TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
REFRESH = "3a394ab5-d920-449d-a9b6-756b16e47780"


def ok(status: str, schema: dict[str, Any], description: str = "Success") -> dict[str, Any]:
    return {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }


BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_COUNT = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
# ?limit= and ?offset= of the legacy listings.
PAGING: list[dict[str, Any]] = [
    {
        "name": "limit",
        "in": "query",
        "description": f"Rows per page, default {limits.OFFSET_LIMIT_DEFAULT}; over "
        f"{limits.OFFSET_LIMIT_MAX} is clamped to {limits.OFFSET_LIMIT_MAX}.",
        "schema": _COUNT,
    },
    {"name": "offset", "in": "query", "schema": _COUNT},
]
COMMON_ERRORS = {
    **error("422", "Invalid input"),
    **error("415", "Wrong content type"),
    **error("413", "Body too large"),
}
AUTH_ERRORS = {**error("401", "Missing or invalid token")}

COMPONENTS: dict[str, Any] = {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {
                            "type": "string",
                            "enum": [
                                "UNAUTHENTICATED",
                                "FORBIDDEN",
                                "NOT_FOUND",
                                "BAD_USER_INPUT",
                                "CONFLICT",
                                "RATE_LIMITED",
                                "PAYLOAD_TOO_LARGE",
                                "INTERNAL_SERVER_ERROR",
                            ],
                        },
                        "message": {"type": "string"},
                        "field": {"type": "string"},
                        "retry_after_ms": {"type": "integer"},
                    },
                }
            },
            "examples": [
                {"error": {"code": "NOT_FOUND", "message": "Product not found."}},
                {
                    "error": {
                        "code": "BAD_USER_INPUT",
                        "message": "price must not be negative.",
                        "field": "price",
                    }
                },
            ],
        },
    },
}
