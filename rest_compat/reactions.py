"""REST: reactions to a room message or a direct message.

``PUT .../reactions/{reaction}`` adds the caller's reaction (idempotent)
and answers the message with its reactions; ``DELETE`` removes it (204,
idempotent too); ``GET .../reactions`` lists who reacted with what. A
reaction in a path is percent-encoded (``%F0%9F%91%8D`` or ``:+1:``). The
rules are in ``resolvers.reactions``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from resolvers import reactions
from rest_compat.chat import body_of
from rest_compat.http import require_user

ROOM = "/chat/rooms/{room}/messages/{message_id}/reactions"
DM = "/chat/dm/{user_id}/messages/{message_id}/reactions"


async def _room_message(request: Request, add: bool) -> Response:
    actor = await require_user(request)
    row = await reactions.react_to_message(
        actor=actor,
        room=request.path_params["room"],
        message_id=request.path_params["message_id"],
        reaction=request.path_params["reaction"],
        add=add,
    )
    if not add:
        return Response(status_code=204)
    return JSONResponse(await body_of(row, actor.id))


async def _direct_message(request: Request, add: bool) -> Response:
    actor = await require_user(request)
    row = await reactions.react_to_direct_message(
        actor=actor,
        with_user=request.path_params["user_id"],
        message_id=request.path_params["message_id"],
        reaction=request.path_params["reaction"],
        add=add,
    )
    if not add:
        return Response(status_code=204)
    return JSONResponse(await body_of(row, actor.id))


async def add_to_message(request: Request) -> Response:
    return await _room_message(request, True)


async def remove_from_message(request: Request) -> Response:
    return await _room_message(request, False)


async def add_to_direct_message(request: Request) -> Response:
    return await _direct_message(request, True)


async def remove_from_direct_message(request: Request) -> Response:
    return await _direct_message(request, False)


def _listing(rows: list[Any]) -> Response:
    return JSONResponse([{"reaction": r.reaction, "user_id": r.user_id} for r in rows])


async def message_reactors(request: Request) -> Response:
    rows = await reactions.message_reactors(
        actor=await require_user(request),
        room=request.path_params["room"],
        message_id=request.path_params["message_id"],
    )
    return _listing(rows)


async def direct_message_reactors(request: Request) -> Response:
    rows = await reactions.direct_message_reactors(
        actor=await require_user(request),
        with_user=request.path_params["user_id"],
        message_id=request.path_params["message_id"],
    )
    return _listing(rows)


routes = [
    Route(ROOM, message_reactors, methods=["GET"]),
    Route(ROOM + "/{reaction}", add_to_message, methods=["PUT"]),
    Route(ROOM + "/{reaction}", remove_from_message, methods=["DELETE"]),
    Route(DM, direct_message_reactors, methods=["GET"]),
    Route(DM + "/{reaction}", add_to_direct_message, methods=["PUT"]),
    Route(DM + "/{reaction}", remove_from_direct_message, methods=["DELETE"]),
]
