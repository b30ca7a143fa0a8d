"""OpenAPI description of editing and deleting messages (handlers:
``rest_compat.message_changes``)."""

from __future__ import annotations

from typing import Any

from resolvers import limits, permissions
from resolvers.permissions import Action
from rest_compat.conversations import DM, ROOM
from rest_compat.spec import common as oa

_ROOM = {"name": "room", "in": "path", "required": True, "schema": {"type": "string"}}
_USER = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_ID = {"name": "message_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_EDIT = oa.json_body(
    {
        "type": "object",
        "required": ["content"],
        "properties": {
            "content": {"type": "string", "minLength": 1, "maxLength": limits.CONTENT_MAX}
        },
    },
    example={"content": "salut (edited)"},
)
_NOT_FOUND = oa.error("404", "No such message, or one the caller may not read")
_EDIT_ERRORS = {
    **oa.AUTH_ERRORS,
    **oa.COMMON_ERRORS,
    **_NOT_FOUND,
    **oa.error("403", f"{permissions.refusal(Action.MESSAGE_EDIT)} Or the edit window has passed."),
    **oa.error("409", "The message was deleted"),
    **oa.error("429", "Too many messages (an edit counts as one)"),
}


def _operations(
    schema: str, params: list[dict[str, Any]], delete: Action, name: str
) -> dict[str, Any]:
    return {
        "patch": {
            "operationId": f"edit{name}",
            "summary": f"Edit a message ({permissions.who(Action.MESSAGE_EDIT)}, "
            "within MESSAGE_EDIT_WINDOW_SECONDS)",
            "security": oa.BEARER,
            "parameters": params,
            "requestBody": _EDIT,
            "responses": {**oa.ok("200", oa.ref(schema), "Edited"), **_EDIT_ERRORS},
        },
        "delete": {
            "operationId": f"delete{name}",
            "summary": f"Delete a message ({permissions.who(delete)}): "
            "it stays a tombstone in history",
            "security": oa.BEARER,
            "parameters": params,
            "responses": {
                "204": {"description": "Deleted (or already deleted)"},
                **oa.COMMON_ERRORS,
                **oa.AUTH_ERRORS,
                **_NOT_FOUND,
                **oa.error("403", permissions.refusal(delete)),
            },
        },
    }


OPENAPI: dict[str, Any] = {
    "paths": {
        ROOM.message: _operations("Message", [_ROOM, _ID], Action.MESSAGE_DELETE, "Message"),
        DM.message: _operations(
            "DirectMessage", [_USER, _ID], Action.DIRECT_MESSAGE_DELETE, "DirectMessage"
        ),
    }
}
