"""REST: ``GET /chat/sync?since=`` (rules in ``resolvers.sync``).

Messages and DMs have the shape of history; a change is the WebSocket's
change frame (``type`` says which); markers the shape of ``PUT .../read``.
No long-polling: a client polls (README, Read markers and sync).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from resolvers import sync as syncing
from resolvers.change_events import ChangeEvent, MessageEdited, ReactionChanged
from rest_compat.conversations import bodies
from rest_compat.http import iso, require_user

_TYPES = {
    "MessageEdited": ("message_edited", "dm_edited"),
    "MessageDeleted": ("message_deleted", "dm_deleted"),
    "ReactionChanged": ("reaction", "dm_reaction"),
}


def change_body(event: ChangeEvent) -> dict[str, Any]:
    room_type, dm_type = _TYPES[type(event).__name__]
    body: dict[str, Any] = {
        "type": room_type if event.room_id else dm_type,
        "event_id": event.id,
        "id": event.message_id,
    }
    if event.room_id:
        body.update(room=event.room_name, room_id=event.room_id, from_user=event.sender_id)
    else:
        body.update(from_user=event.sender_id, to_user=event.recipient_id)
    if isinstance(event, MessageEdited):
        body.update(content=event.content, edited_at=iso(event.edited_at))
    elif isinstance(event, ReactionChanged):
        body.update(user_id=event.user_id, reaction=event.reaction, added=event.added)
    return body


async def sync(request: Request) -> Response:
    actor = await require_user(request)
    found = await syncing.sync(actor=actor, since=request.query_params.get("since"))
    rooms = [
        {
            "room": r.room.name,
            "room_id": r.room.id,
            "joined": r.joined,
            "messages": await bodies(r.messages, actor.id),
            "limited": r.limited,
            "before": r.before,
            "changes": [change_body(c) for c in r.changes],
            "changes_limited": r.changes_limited,
        }
        for r in found.rooms
    ]
    return JSONResponse(
        {
            "next": found.next,
            "rooms": rooms,
            "left": found.left,
            "dms": await bodies(found.dms, actor.id),
            "dms_limited": found.dms_limited,
            "dm_changes": [change_body(c) for c in found.dm_changes],
            "dm_changes_limited": found.dm_changes_limited,
            "read_markers": [m.as_dict() for m in found.markers],
        }
    )


routes = [Route("/chat/sync", sync, methods=["GET"])]
