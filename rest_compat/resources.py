"""REST: /ressources (the legacy spelling) and its alias /resources."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from models import Resource
from resolvers import resources
from rest_compat.http import (
    JSONResponse,
    current_user,
    iso,
    json_object,
    list_response,
    query_int,
    require_user,
)


def resource_body(row: Resource) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "kind": row.kind.value,
        "url": row.url,
        "file_id": row.file_id,
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
    # The resolver's check, before the body is read (401/403 whatever it sent).
    publisher = resources.publisher(await current_user(request))
    body = await json_object(request)
    row = await resources.create_resource(
        publisher=publisher,
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
