"""OpenAPI description of reactions (handlers: ``rest_compat.reactions``)."""

from __future__ import annotations

from typing import Any

from resolvers.reactions import REACTION_RULE
from rest_compat.reactions import DM_REACTIONS, ROOM_REACTIONS
from rest_compat.spec import common as oa


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


def _operations(schema: str, params: list[dict[str, Any]], name: str) -> dict[str, Any]:
    write_errors = {
        **oa.AUTH_ERRORS,
        **_NOT_FOUND,
        **oa.error("409", "A deleted message, or too many distinct reactions"),
        **oa.error("422", "Not a reaction"),
        **oa.error("429", "Too many messages (a reaction counts as one)"),
    }
    return {
        "put": {
            "operationId": f"add{name}Reaction",
            "summary": "Add the caller's reaction (idempotent; whoever may read the message)",
            "security": oa.BEARER,
            "parameters": [*params, _REACTION],
            "responses": {**oa.ok("200", oa.ref(schema), "The message"), **write_errors},
        },
        "delete": {
            "operationId": f"remove{name}Reaction",
            "summary": "Remove the caller's reaction (idempotent)",
            "security": oa.BEARER,
            "parameters": [*params, _REACTION],
            "responses": {"204": {"description": "Removed (or not there)"}, **write_errors},
        },
    }


def _listing_operation(params: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": f"list{name}Reactions",
            "summary": "Who reacted with what, oldest first",
            "security": oa.BEARER,
            "parameters": params,
            "responses": {
                **oa.ok("200", _REACTORS),
                **oa.COMMON_ERRORS,
                **oa.AUTH_ERRORS,
                **_NOT_FOUND,
            },
        }
    }


_ROOM_PARAMS = [_param("room", "string"), _param("message_id", "integer")]
_DM_PARAMS = [_param("user_id", "integer"), _param("message_id", "integer")]
OPENAPI: dict[str, Any] = {
    "paths": {
        ROOM_REACTIONS: _listing_operation(_ROOM_PARAMS, "Message"),
        ROOM_REACTIONS + "/{reaction}": _operations("Message", _ROOM_PARAMS, "Message"),
        DM_REACTIONS: _listing_operation(_DM_PARAMS, "DirectMessage"),
        DM_REACTIONS + "/{reaction}": _operations("DirectMessage", _DM_PARAMS, "DirectMessage"),
    }
}
