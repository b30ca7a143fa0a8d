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
from resolvers.reactions import REACTION_RULE
from rest_compat import openapi as oa
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


def _param(name: str, kind: str, description: str = "") -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "path", "required": True}
    param["schema"] = {"type": kind}
    if description:
        param["description"] = description
    return param


_REACTION = _param("reaction", "string", REACTION_RULE + ", percent-encoded")
_NOT_FOUND = oa.error("404", "No such message, or one the caller may not read")
_REACTORS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["reaction", "user_id"],
        "properties": {"reaction": {"type": "string"}, "user_id": {"type": "integer"}},
    },
}


def _operations(schema: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    write_errors = {
        **oa.AUTH_ERRORS,
        **_NOT_FOUND,
        **oa.error("409", "A deleted message, or too many distinct reactions"),
        **oa.error("422", "Not a reaction"),
        **oa.error("429", "Too many messages (a reaction counts as one)"),
    }
    return {
        "put": {
            "summary": "Add the caller's reaction (idempotent; whoever may read the message)",
            "security": oa.BEARER,
            "parameters": [*params, _REACTION],
            "responses": {**oa.ok("200", oa.ref(schema), "The message"), **write_errors},
        },
        "delete": {
            "summary": "Remove the caller's reaction (idempotent)",
            "security": oa.BEARER,
            "parameters": [*params, _REACTION],
            "responses": {"204": {"description": "Removed (or not there)"}, **write_errors},
        },
    }


def _listing_operation(params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "summary": "Who reacted with what, oldest first",
            "security": oa.BEARER,
            "parameters": params,
            "responses": {**oa.ok("200", _REACTORS), **oa.AUTH_ERRORS, **_NOT_FOUND},
        }
    }


_ROOM_PARAMS = [_param("room", "string"), _param("message_id", "integer")]
_DM_PARAMS = [_param("user_id", "integer"), _param("message_id", "integer")]
OPENAPI: dict[str, Any] = {
    "paths": {
        ROOM: _listing_operation(_ROOM_PARAMS),
        ROOM + "/{reaction}": _operations("Message", _ROOM_PARAMS),
        DM: _listing_operation(_DM_PARAMS),
        DM + "/{reaction}": _operations("DirectMessage", _DM_PARAMS),
    }
}
