"""OpenAPI description of sync (handler: ``rest_compat.sync``; rules:
``resolvers.sync``)."""

from __future__ import annotations

from typing import Any

from resolvers import limits
from rest_compat.spec import common as oa
from rest_compat.spec.read_markers import MARKER

_ARRAY: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
_SYNC = {
    "type": "object",
    "properties": {
        "next": {"type": "string", "description": "The `since` of the next call (opaque)"},
        "rooms": {
            "type": "array",
            "description": "Rooms with news: messages (history's shape, oldest first, at most "
            f"{limits.SYNC_ROOM_MESSAGES}), `limited` with `before` (page back with GET "
            f".../messages?before=), `joined`, `changes` (at most {limits.SYNC_CHANGES}), "
            "`changes_limited`",
            "items": {"type": "object"},
        },
        "left": {"type": "array", "items": {"type": "integer"}},
        "dms": {**_ARRAY, "description": f"New DMs, oldest first, at most {limits.SYNC_DMS}"},
        "dms_limited": {"type": "boolean"},
        "dm_changes": _ARRAY,
        "dm_changes_limited": {"type": "boolean"},
        "read_markers": {"type": "array", "items": MARKER},
        "mentions": {
            **_ARRAY,
            "description": "The caller's mentions since `since`, in rooms joined or not "
            "(the WS `mention` frame); more follow when `dm_changes_limited`",
        },
    },
}

OPENAPI: dict[str, Any] = {
    "paths": {
        "/chat/sync": {
            "get": {
                "operationId": "sync",
                "summary": "Everything that changed for the caller since `since`, and the next "
                "token (no long-polling: poll)",
                "security": oa.BEARER,
                "parameters": [
                    {
                        "name": "since",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "The `next` of the previous call; none: from the start",
                    }
                ],
                "responses": {
                    **oa.ok("200", _SYNC),
                    **oa.error("422", "since is not a sync token of the caller's"),
                    **oa.AUTH_ERRORS,
                },
            }
        },
    }
}
