"""REST: edit and delete a room message or a direct message.

``PATCH`` answers the edited message (the shape of ``GET`` history);
``DELETE`` answers 204 and leaves a tombstone in history. The rules
(author, edit window, ADMIN, 404 for what the caller may not see) are in
``resolvers.message_changes``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from resolvers import message_changes
from rest_compat.chat import body_of
from rest_compat.http import json_object, require_user, required


async def edit_message(request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    row = await message_changes.edit_message(
        actor=actor,
        room=request.path_params["room"],
        message_id=request.path_params["message_id"],
        content=required(body, "content"),
    )
    return JSONResponse(await body_of(row, actor.id))


async def delete_message(request: Request) -> Response:
    actor = await require_user(request)
    await message_changes.delete_message(
        actor=actor,
        room=request.path_params["room"],
        message_id=request.path_params["message_id"],
    )
    return Response(status_code=204)


async def edit_direct_message(request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    row = await message_changes.edit_direct_message(
        actor=actor,
        with_user=request.path_params["user_id"],
        message_id=request.path_params["message_id"],
        content=required(body, "content"),
    )
    return JSONResponse(await body_of(row, actor.id))


async def delete_direct_message(request: Request) -> Response:
    actor = await require_user(request)
    await message_changes.delete_direct_message(
        actor=actor,
        with_user=request.path_params["user_id"],
        message_id=request.path_params["message_id"],
    )
    return Response(status_code=204)


ROOM_MESSAGE = "/chat/rooms/{room}/messages/{message_id}"
DM_MESSAGE = "/chat/dm/{user_id}/messages/{message_id}"
routes = [
    Route(ROOM_MESSAGE, edit_message, methods=["PATCH"]),
    Route(ROOM_MESSAGE, delete_message, methods=["DELETE"]),
    Route(DM_MESSAGE, edit_direct_message, methods=["PATCH"]),
    Route(DM_MESSAGE, delete_direct_message, methods=["DELETE"]),
]
