"""REST: read markers and unread counts (rules in ``resolvers.read_markers``).

``PUT /chat/rooms/{room}/read`` and ``PUT /chat/dm/{user_id}/read`` take
``{"message_id": N}`` and answer the marker (current one if N is not
ahead of it); ``GET /chat/unread`` answers ``{"rooms": [...], "dms": [...]}``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from resolvers import read_markers
from rest_compat.http import JSONResponse, json_object, require_user, required


async def mark_room_read(request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    marker = await read_markers.mark_room_read(
        actor=actor, room=request.path_params["room"], message_id=required(body, "message_id")
    )
    return JSONResponse(marker.as_dict())


async def mark_dm_read(request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    marker = await read_markers.mark_dm_read(
        actor=actor,
        with_user=request.path_params["user_id"],
        message_id=required(body, "message_id"),
    )
    return JSONResponse(marker.as_dict())


async def unread(request: Request) -> Response:
    rows = await read_markers.unread_counts(actor=await require_user(request))
    return JSONResponse(
        {
            "rooms": [u.as_dict() for u in rows if u.room_id],
            "dms": [u.as_dict() for u in rows if not u.room_id],
        }
    )


routes = [
    Route("/chat/rooms/{room}/read", mark_room_read, methods=["PUT"]),
    Route("/chat/dm/{user_id}/read", mark_dm_read, methods=["PUT"]),
    Route("/chat/unread", unread, methods=["GET"]),
]
