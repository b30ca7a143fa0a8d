"""The OpenAPI 3.1 description of the REST paths, and its docs page.

Each REST module describes its own paths (``OPENAPI``); this module merges
them with the shared components.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from core import assets


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def error(status: str, description: str) -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": ref("Error")}},
        }
    }


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def ok(status: str, schema: dict[str, Any], description: str = "Success") -> dict[str, Any]:
    return {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }


BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_COUNT = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
# ?limit= and ?offset= of the legacy listings.
PAGING: list[dict[str, Any]] = [
    {"name": "limit", "in": "query", "schema": _COUNT},
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
        },
    },
}


def build_spec(modules: list[dict[str, Any]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas = dict(COMPONENTS["schemas"])
    for part in modules:
        for path, operations in part.get("paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(part.get("schemas", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Comptoir REST compatibility API",
            "version": "1.0.0",
            "description": "Legacy REST paths. GraphQL at /graphql is the primary API.",
        },
        "paths": paths,
        "components": {"securitySchemes": COMPONENTS["securitySchemes"], "schemas": schemas},
    }


DOCS_HTML = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Comptoir REST API</title>
<link rel="icon" href="data:,">
{assets.stylesheet("swagger-ui-dist/swagger-ui.css")}
</head><body><div id="ui"></div>
{assets.script("swagger-ui-dist/swagger-ui-bundle.js")}
{assets.script("comptoir/docs.js")}
<noscript>The description is at <a href="/openapi.json">/openapi.json</a>.</noscript>
</body></html>"""


def routes(spec: dict[str, Any]) -> list[Route]:
    async def openapi_json(request: Request) -> Response:
        return JSONResponse(spec)

    async def docs(request: Request) -> Response:
        return HTMLResponse(DOCS_HTML)

    return [
        Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False),
        Route("/docs", docs, methods=["GET"], include_in_schema=False),
    ]
