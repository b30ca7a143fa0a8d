"""REST: /ressources (the legacy spelling) and its alias /resources."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from models import Resource, ResourceKind
from resolvers import resources
from rest_compat import openapi as oa
from rest_compat.http import current_user, iso, json_object, list_response, query_int, require_user


def resource_body(row: Resource) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "kind": row.kind.value,
        "url": row.url,
        "file_id": row.file_id,  # type: ignore[attr-defined]
        "created_at": iso(row.created_at),
    }


async def list_resources(request: Request) -> Response:
    actor = await require_user(request)
    rows = await resources.list_resources_offset(
        actor=actor,
        limit=query_int(request, "limit"),
        offset=query_int(request, "offset"),
        kind=request.query_params.get("kind"),
    )
    return list_response(request, [resource_body(r) for r in rows])


async def create_resource(request: Request) -> Response:
    actor = await current_user(request)
    resources.require_admin(actor)
    body = await json_object(request)
    row = await resources.create_resource(
        actor=actor,
        title=body.get("title"),
        description=body.get("description", ""),
        kind=body.get("kind"),
        url=body.get("url"),
        file_id=body.get("file_id"),
        file_field="file_id",
    )
    return JSONResponse(resource_body(row), status_code=201)


routes = [
    Route(path, endpoint, methods=[method])
    for path in ("/ressources", "/resources")
    for method, endpoint in (("GET", list_resources), ("POST", create_resource))
]


_KINDS = [k.value for k in ResourceKind]
_RESOURCE = {
    "type": "object",
    "required": ["id", "title", "description", "kind", "url", "file_id", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "kind": {"type": "string", "enum": _KINDS},
        "url": {"type": ["string", "null"]},
        "file_id": {"type": ["integer", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
_INPUT = {
    "type": "object",
    "required": ["title"],
    "description": "Exactly one of url (http or https) and file_id.",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": resources.TITLE_MAX},
        "description": {"type": "string", "maxLength": resources.DESCRIPTION_MAX},
        "kind": {"type": "string", "enum": _KINDS, "default": "DOCUMENT"},
        "url": {"type": "string", "format": "uri", "maxLength": resources.URL_MAX},
        "file_id": {"type": "integer", "minimum": 1},
    },
}


def _operations(summary_suffix: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": "List internal resources" + summary_suffix,
            "security": oa.BEARER,
            "parameters": [
                {"name": "kind", "in": "query", "schema": {"type": "string", "enum": _KINDS}},
                *oa.PAGING,
            ],
            "responses": {
                **oa.ok("200", {"type": "array", "items": oa.ref("Resource")}),
                **oa.AUTH_ERRORS,
                **oa.error("422", "Invalid kind or paging"),
            },
        },
        "post": {
            "summary": "Create an internal resource (ADMIN)" + summary_suffix,
            "security": oa.BEARER,
            "requestBody": oa.json_body(_INPUT),
            "responses": {
                **oa.ok("201", oa.ref("Resource")),
                **oa.COMMON_ERRORS,
                **oa.AUTH_ERRORS,
                **oa.error("403", "Not an ADMIN"),
            },
        },
    }


OPENAPI: dict[str, Any] = {
    "schemas": {"Resource": _RESOURCE},
    "paths": {
        "/ressources": _operations(""),
        "/resources": _operations(" (alias of /ressources)"),
    },
}
