"""OpenAPI description of presence and typing (handlers: ``rest_compat.presence``)."""

from __future__ import annotations

from typing import Any

from resolvers.limits import PRESENCE_MEMBERS_MAX
from rest_compat.presence import DM_TYPING, ROOM_PRESENCE, ROOM_TYPING
from rest_compat.spec import common as oa


def _param(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


_PRESENCE = {
    "type": "object",
    "required": ["room", "room_id", "users"],
    "properties": {
        "room": {"type": "string"},
        "room_id": {"type": "integer"},
        "users": {
            "type": "array",
            "maxItems": PRESENCE_MEMBERS_MAX,
            "items": {
                "type": "object",
                "required": ["id", "online", "last_seen"],
                "properties": {
                    "id": {"type": "integer"},
                    "online": {"type": "boolean"},
                    "last_seen": {"type": ["string", "null"], "format": "date-time"},
                },
            },
        },
    },
}
_TYPING = oa.with_example(
    {
        "type": "object",
        "required": ["expires_at", "delivered"],
        "properties": {
            "expires_at": {"type": "string", "format": "date-time"},
            "delivered": {
                "type": "boolean",
                "description": "false: throttled, an earlier signal of the caller still holds",
            },
        },
    },
    {"expires_at": oa.WHEN, "delivered": True},
)


def _typing(name: str, param: dict[str, Any], not_found: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": f"signal{name}Typing",
            "summary": "Tell the other participants the caller is typing (not stored; "
            "whoever may send a message there)",
            "security": oa.BEARER,
            "parameters": [param],
            "responses": {
                **oa.ok("202", _TYPING, "Signalled until expires_at"),
                **oa.AUTH_ERRORS,
                **oa.error("404", not_found),
                **oa.error("422", "Invalid input (a DM to oneself)"),
            },
        }
    }


OPENAPI: dict[str, Any] = {
    "paths": {
        ROOM_PRESENCE: {
            "get": {
                "operationId": "getRoomPresence",
                "summary": "The room's members, online or not, and when last seen "
                f"(online first; at most {PRESENCE_MEMBERS_MAX})",
                "security": oa.BEARER,
                "parameters": [_param("room", "string")],
                "responses": {
                    **oa.ok("200", _PRESENCE),
                    **oa.AUTH_ERRORS,
                    **oa.error("404", "No such room, or a private room of others"),
                },
            }
        },
        ROOM_TYPING: _typing("Room", _param("room", "string"), "No such room"),
        DM_TYPING: _typing("Direct", _param("user_id", "integer"), "No such user"),
    }
}
