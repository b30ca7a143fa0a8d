"""REST: who in a room is online, and the typing signal (no live channel here).

``GET /chat/rooms/{room}/presence`` lists the room's members with
``online`` and ``last_seen`` (rules: ``resolvers.presence``).
``POST /chat/rooms/{room}/typing`` and ``POST /chat/dm/{user_id}/typing``
signal "typing" to the room or to the DM partner: 202 with
``expires_at`` and ``delivered`` (rules: ``resolvers.typing``).
"""

from __future__ import annotations

from datetime import UTC

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from resolvers import presence, typing
from rest_compat.http import JSONResponse, require_user

ROOM_PRESENCE = "/chat/rooms/{room}/presence"
ROOM_TYPING = "/chat/rooms/{room}/typing"
DM_TYPING = "/chat/dm/{user_id}/typing"


async def room_presence(request: Request) -> Response:
    room, members = await presence.room_presence(
        actor=await require_user(request), room=request.path_params["room"]
    )
    users = [
        {
            "id": m.user_id,
            "online": m.online,
            "last_seen": m.last_seen.astimezone(UTC).isoformat() if m.last_seen else None,
        }
        for m in members
    ]
    return JSONResponse({"room": room.name, "room_id": room.id, "users": users})


def _sent(sent: typing.Typing) -> Response:
    body = {"expires_at": sent.expires_at.astimezone(UTC).isoformat(), "delivered": sent.delivered}
    return JSONResponse(body, status_code=202)


async def room_typing(request: Request) -> Response:
    actor = await require_user(request)
    return _sent(await typing.in_room(actor=actor, room=request.path_params["room"]))


async def dm_typing(request: Request) -> Response:
    actor = await require_user(request)
    return _sent(await typing.to_user(actor=actor, to=request.path_params["user_id"]))


routes = [
    Route(ROOM_PRESENCE, room_presence, methods=["GET"]),
    Route(ROOM_TYPING, room_typing, methods=["POST"]),
    Route(DM_TYPING, dm_typing, methods=["POST"]),
]
