"""OpenAPI description of the REST chat paths (handlers: ``rest_compat.chat``)."""

from __future__ import annotations

from typing import Any

from resolvers import limits, permissions
from resolvers.limits import MAX_PAGE
from resolvers.permissions import Action
from rest_compat.spec import common as oa

_TIMESTAMP = {"type": "string", "format": "date-time"}
_CLIENT_ID = {"type": ["string", "null"], "minLength": 1, "maxLength": limits.CLIENT_ID_MAX}
_CONTENT = {"type": "string", "minLength": 1, "maxLength": limits.CONTENT_MAX}
_ROOM = {
    "type": "object",
    "required": ["id", "name", "is_private", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string", "minLength": 1, "maxLength": limits.ROOM_NAME_MAX},
        "is_private": {"type": "boolean"},
        "created_at": _TIMESTAMP,
    },
}
_EDITED_AT = {"type": "string", "format": "date-time", "description": "Last edit, once edited"}
_DELETED = {
    "type": "boolean",
    "const": True,
    "description": "Present once deleted: a tombstone, id and timestamp kept, content empty",
}
_SHOWN_CONTENT = {
    "type": "string",
    "maxLength": limits.CONTENT_MAX,
    "description": "Empty once deleted",
}
_REACTION_COUNTS = {
    "type": "array",
    "description": "In history, once it has reactions: each with its count, and `me` when "
    "the caller is among those who reacted",
    "items": {
        "type": "object",
        "required": ["reaction", "count", "me"],
        "properties": {
            "reaction": {"type": "string"},
            "count": {"type": "integer", "minimum": 1},
            "me": {"type": "boolean"},
        },
    },
}
# What a room message and a direct message both show, after their ids.
_POSTED: dict[str, Any] = {
    "content": _SHOWN_CONTENT,
    "timestamp": _TIMESTAMP,
    "client_id": _CLIENT_ID,
    "edited_at": _EDITED_AT,
    "deleted": _DELETED,
    "reactions": {"$ref": "#/components/schemas/ReactionCounts"},
}
_MESSAGE = {
    "type": "object",
    "required": ["id", "room_id", "room", "from_user", "content", "timestamp", "client_id"],
    "properties": {
        "id": {"type": "integer"},
        "room_id": {"type": "integer"},
        "room": {"type": "string", "description": "The room's name"},
        "from_user": {"type": "integer", "description": "The author's user id"},
        **_POSTED,
    },
}
_DM = {
    "type": "object",
    "required": ["id", "from_user", "to_user", "content", "timestamp", "client_id"],
    "properties": {
        "id": {"type": "integer"},
        "from_user": {"type": "integer"},
        "to_user": {"type": "integer"},
        **_POSTED,
    },
}
_SEND = {
    "type": "object",
    "required": ["content"],
    "properties": {
        "content": _CONTENT,
        "client_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": limits.CLIENT_ID_MAX,
            "description": "Idempotency key: a retry with the same one (same target and "
            "content) stores nothing twice and answers with the message already stored; the "
            "same key with another target or content is 409 CONFLICT.",
        },
    },
}
_PAGING = [
    {
        "name": "limit",
        "in": "query",
        "description": f"Page size, default {limits.HISTORY_DEFAULT}; over "
        f"{limits.HISTORY_MAX} is clamped to {limits.HISTORY_MAX}.",
        "schema": {"type": "integer", "minimum": 0},
    },
    {
        "name": "before",
        "in": "query",
        "description": "The last `limit` messages before this message id.",
        "schema": {"type": "integer", "minimum": 0},
    },
    {
        "name": "after",
        "in": "query",
        "description": "Alone: the first `limit` messages after this message id.",
        "schema": {"type": "integer", "minimum": 0},
    },
]
_ROOM_PARAM = {
    "name": "room",
    "in": "path",
    "required": True,
    "description": "A room's id or name",
    "schema": {"type": "string"},
    "example": "general",
}
_USER_PARAM = {
    "name": "user_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "example": 2,
}
_ROOM_NOT_FOUND = oa.error(
    "404", f"No such room, or a private room (shown to {permissions.who(Action.PRIVATE_ROOM_READ)})"
)
_USER_NOT_FOUND = oa.error("404", "No such user")
_ROOM_PAGING = [
    {
        "name": "limit",
        "in": "query",
        "description": f"Page size, default {limits.ROOMS_PAGE_DEFAULT}; over {MAX_PAGE} is "
        f"clamped to {MAX_PAGE}. A page shorter than `limit` is the last.",
        "schema": {"type": "integer", "minimum": 0},
    },
    {
        "name": "after",
        "in": "query",
        "description": "The rooms after this room id (the last id of the previous page).",
        "schema": {"type": "integer", "minimum": 0},
    },
]
_CLIENT_ID_REUSED = oa.error("409", "client_id already used for another target or content")
_RATE = oa.error("429", "Too many messages (Retry-After says when to retry)")
OPENAPI: dict[str, Any] = {
    "schemas": {
        "ReactionCounts": oa.with_example(
            _REACTION_COUNTS, [{"reaction": ":tada:", "count": 2, "me": True}]
        ),
        "Room": oa.with_example(
            _ROOM, {"id": 1, "name": "general", "is_private": False, "created_at": oa.WHEN}
        ),
        "Message": oa.with_example(
            _MESSAGE,
            {
                "id": 42,
                "room_id": 1,
                "room": "general",
                "from_user": 1,
                "content": "salut",
                "timestamp": oa.WHEN,
                "client_id": "c-1",
            },
        ),
        "DirectMessage": oa.with_example(
            _DM,
            {
                "id": 7,
                "from_user": 1,
                "to_user": 2,
                "content": "yo",
                "timestamp": oa.WHEN,
                "client_id": None,
            },
        ),
    },
    "paths": {
        "/chat/rooms": {
            "get": {
                "operationId": "listRooms",
                "summary": "Public rooms and the caller's private rooms, a page by id",
                "security": oa.BEARER,
                "parameters": _ROOM_PAGING,
                "responses": {
                    **oa.ok("200", {"type": "array", "items": oa.ref("Room")}),
                    **oa.AUTH_ERRORS,
                    **oa.error("422", "Invalid paging (negative or not an integer)"),
                },
            },
            "post": {
                "operationId": "createRoom",
                "summary": "Create a room (the creator becomes a member)",
                "security": oa.BEARER,
                "requestBody": oa.json_body(
                    {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": limits.ROOM_NAME_MAX,
                                "description": "Unique (look-alike spellings are one name); "
                                'not all digits; no "/", not "." or ".."',
                            },
                            "is_private": {"type": "boolean", "default": False},
                        },
                    },
                    example={"name": "support", "is_private": False},
                ),
                "responses": {
                    **oa.ok("201", oa.ref("Room"), "Created"),
                    **oa.AUTH_ERRORS,
                    **oa.COMMON_ERRORS,
                    **oa.error("409", "The name is taken (look-alike spellings included)"),
                    **oa.error("429", "Too many rooms created (Retry-After says when to retry)"),
                    **oa.error("422", "Invalid name (empty, too long, all digits) or is_private"),
                },
            },
        },
        "/chat/rooms/{room}/messages": {
            "get": {
                "operationId": "listRoomMessages",
                "summary": "A room's history, oldest first (public room, or member)",
                "security": oa.BEARER,
                "parameters": [_ROOM_PARAM, *_PAGING],
                "responses": {
                    **oa.ok("200", {"type": "array", "items": oa.ref("Message")}),
                    **oa.AUTH_ERRORS,
                    **_ROOM_NOT_FOUND,
                    **oa.error("422", "Invalid paging (negative or not an integer)"),
                },
            },
            "post": {
                "operationId": "postRoomMessage",
                "summary": "Post a message (public room, or member)",
                "security": oa.BEARER,
                "parameters": [_ROOM_PARAM],
                "requestBody": oa.json_body(
                    _SEND, example={"content": "salut", "client_id": "c-1"}
                ),
                "responses": {
                    **oa.ok("201", oa.ref("Message"), "Stored (or already stored, by client_id)"),
                    **oa.AUTH_ERRORS,
                    **oa.COMMON_ERRORS,
                    **_ROOM_NOT_FOUND,
                    **_CLIENT_ID_REUSED,
                    **_RATE,
                },
            },
        },
        "/chat/rooms/{room}/members/me": {
            "put": {
                "operationId": "joinRoom",
                "summary": "Join a public room (idempotent), as GraphQL `joinRoom` and the "
                "`join` frame. A private room is 404 unless the caller is already a member "
                "(then a no-op): its existence does not leak",
                "security": oa.BEARER,
                "parameters": [_ROOM_PARAM],
                "responses": {
                    **oa.ok("200", oa.ref("Room"), "Joined (or already a member)"),
                    **oa.AUTH_ERRORS,
                    **_ROOM_NOT_FOUND,
                },
            },
            "delete": {
                "operationId": "leaveRoom",
                "summary": "Leave a room (idempotent; the creator too). It then shows in sync's "
                "`left` and leaves unread counts and presence; a private room is then 404",
                "security": oa.BEARER,
                "parameters": [_ROOM_PARAM],
                "responses": {
                    **oa.ok(
                        "200", oa.ref("Room"), "Left (or was not a member of this public room)"
                    ),
                    **oa.AUTH_ERRORS,
                    **_ROOM_NOT_FOUND,
                    **oa.error("409", "The last member of a private room cannot leave it"),
                },
            },
        },
        "/chat/dm/{user_id}": {
            "get": {
                "operationId": "listDirectMessages",
                "summary": "The conversation between the caller and user_id, oldest first",
                "security": oa.BEARER,
                "parameters": [_USER_PARAM, *_PAGING],
                "responses": {
                    **oa.ok("200", {"type": "array", "items": oa.ref("DirectMessage")}),
                    **oa.AUTH_ERRORS,
                    **_USER_NOT_FOUND,
                    **oa.error("422", "Invalid user id or paging"),
                },
            },
            "post": {
                "operationId": "sendDirectMessage",
                "summary": "Send a direct message to user_id",
                "security": oa.BEARER,
                "parameters": [_USER_PARAM],
                "requestBody": oa.json_body(_SEND, example={"content": "yo"}),
                "responses": {
                    **oa.ok("201", oa.ref("DirectMessage"), "Stored (or already stored)"),
                    **oa.AUTH_ERRORS,
                    **oa.COMMON_ERRORS,
                    **_USER_NOT_FOUND,
                    **oa.error("422", "Invalid input, or a message to oneself"),
                    **_CLIENT_ID_REUSED,
                    **_RATE,
                },
            },
        },
    },
}
