"""REST: edit and delete a room message or a direct message.

``PATCH`` answers the edited message (the shape of ``GET`` history);
``DELETE`` answers 204 and leaves a tombstone in history. The rules
(author, edit window, ADMIN, 404 for what the caller may not see) are in
``resolvers.message_changes``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from resolvers import message_changes
from rest_compat import openapi as oa
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

_ROOM = {"name": "room", "in": "path", "required": True, "schema": {"type": "string"}}
_USER = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_ID = {"name": "message_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_EDIT = oa.json_body(
    {
        "type": "object",
        "required": ["content"],
        "properties": {"content": {"type": "string", "minLength": 1, "maxLength": 4000}},
    }
)
_NOT_FOUND = oa.error("404", "No such message, or one the caller may not read")
_FORBIDDEN = oa.error("403", "Not the author (edit), not the author nor an ADMIN (delete)")
_EDIT_ERRORS = {
    **oa.AUTH_ERRORS,
    **oa.COMMON_ERRORS,
    **_NOT_FOUND,
    **oa.error("403", "Not the author, or the edit window has passed"),
    **oa.error("409", "The message was deleted"),
    **oa.error("429", "Too many messages (an edit counts as one)"),
}


def _operations(schema: str, params: list[dict[str, Any]], who: str) -> dict[str, Any]:
    return {
        "patch": {
            "summary": "Edit a message (its author, within MESSAGE_EDIT_WINDOW_SECONDS)",
            "security": oa.BEARER,
            "parameters": params,
            "requestBody": _EDIT,
            "responses": {**oa.ok("200", oa.ref(schema), "Edited"), **_EDIT_ERRORS},
        },
        "delete": {
            "summary": f"Delete a message ({who}): it stays a tombstone in history",
            "security": oa.BEARER,
            "parameters": params,
            "responses": {
                "204": {"description": "Deleted (or already deleted)"},
                **oa.AUTH_ERRORS,
                **_NOT_FOUND,
                **_FORBIDDEN,
            },
        },
    }


OPENAPI: dict[str, Any] = {
    "paths": {
        ROOM_MESSAGE: _operations("Message", [_ROOM, _ID], "its author or an ADMIN"),
        DM_MESSAGE: _operations("DirectMessage", [_USER, _ID], "its author only"),
    }
}
