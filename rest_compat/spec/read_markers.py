"""OpenAPI description of read markers and unread counts (handlers:
``rest_compat.read_markers``; rules: ``resolvers.read_markers``)."""

from __future__ import annotations

from typing import Any

from rest_compat.spec import common as oa

_ROOM = {"name": "room", "in": "path", "required": True, "schema": {"type": "string"}}
_USER = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_MARK = oa.json_body(
    {"type": "object", "required": ["message_id"], "properties": {"message_id": _ID}},
    example={"message_id": 42},
)
_WHERE = {
    "room": {"type": "string", "description": "A room's marker: its name"},
    "room_id": {"type": "integer"},
    "with": {"type": "integer", "description": "A DM conversation's marker: the other party"},
}
MARKER = {
    "type": "object",
    "properties": {
        **_WHERE,
        "last_read_id": {"type": "integer", "description": "The last message id read"},
        "event_id": {"type": "integer", "description": "The marker's last move (DM id space)"},
    },
}
_UNREAD = {
    "type": "object",
    "properties": {
        **_WHERE,
        "last_read_id": {"type": "integer", "description": "0 when nothing was read yet"},
        "unread": {"type": "integer", "description": "Not deleted, not the caller's own"},
        "mentions": {"type": "integer", "description": "Of those, mentioning the caller"},
    },
}
_NOT_FOUND = oa.error("404", "No such room or user, or a message not of that conversation")


def _mark(name: str, params: list[dict[str, Any]], what: str) -> dict[str, Any]:
    return {
        "put": {
            "operationId": name,
            "summary": f"Move the caller's read marker of {what} forward (never back)",
            "security": oa.BEARER,
            "parameters": params,
            "requestBody": _MARK,
            "responses": {
                **oa.ok("200", MARKER, "The marker (the current one if not ahead of it)"),
                **oa.COMMON_ERRORS,
                **oa.AUTH_ERRORS,
                **_NOT_FOUND,
            },
        }
    }


OPENAPI: dict[str, Any] = {
    "paths": {
        "/chat/rooms/{room}/read": _mark("markRoomRead", [_ROOM], "a room"),
        "/chat/dm/{user_id}/read": _mark("markDirectMessagesRead", [_USER], "a DM conversation"),
        "/chat/unread": {
            "get": {
                "operationId": "unreadCounts",
                "summary": "Unread and mention counts of every room of the caller's and every "
                "DM conversation with something unread",
                "security": oa.BEARER,
                "responses": {
                    **oa.ok(
                        "200",
                        {
                            "type": "object",
                            "properties": {
                                "rooms": {"type": "array", "items": _UNREAD},
                                "dms": {"type": "array", "items": _UNREAD},
                            },
                        },
                    ),
                    **oa.AUTH_ERRORS,
                },
            }
        },
    }
}
