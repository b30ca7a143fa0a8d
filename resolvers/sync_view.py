"""Sync's answer as the two JSON doors show it: its shape, written once.

GraphQL has its own types (``schema.sync``). REST (``GET /chat/sync``) and
the chat WebSocket (the ``sync`` reply) answer with one body
(``tests/contract/read_markers_and_sync.md``), whose changes are the
WebSocket's change frames (:func:`change`) and mentions its mention frames
(:func:`mention`), which ``ws.event_frames`` also sends live. The keys,
their order and what goes in each are here; a door only says how it
writes what the shape leaves to it (:class:`Wire`: its message bodies,
history's shape, and its times) and adds nothing else::

    body = await sync_view.render(found, viewer_id, WIRE)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models import DirectMessage, Message
from resolvers.change_events import (
    ChangeEvent,
    MessageDeleted,
    MessageEdited,
    MessageMentioned,
    ReactionChanged,
)
from resolvers.sync import RoomSync, SyncResult

Body = dict[str, Any]
Stamp = Callable[[datetime], str]

# A change's ``type``: (of a room message, of a direct message).
CHANGE_TYPES: dict[type[ChangeEvent], tuple[str, str]] = {
    MessageEdited: ("message_edited", "dm_edited"),
    MessageDeleted: ("message_deleted", "dm_deleted"),
    ReactionChanged: ("reaction", "dm_reaction"),
}


@dataclass(frozen=True, slots=True)
class Wire:
    """What a door writes its own way: messages (or DMs) as its history
    shows them, for a viewer; and a time."""

    messages: Callable[[Sequence[Message | DirectMessage], int], Awaitable[list[Body]]]
    stamp: Stamp


def change(event: ChangeEvent, stamp: Stamp) -> Body:
    """A change of a message: ``event_id`` is where a resuming client's
    ``after`` goes; ``id`` is the message's. A room message's change names
    the room, a DM's both parties; an edit carries the content as it is
    now, a reaction who reacted and whether it was added."""
    room_type, dm_type = CHANGE_TYPES[type(event)]
    body: Body = {"type": room_type if event.room_id else dm_type}
    body["event_id"] = event.id
    body["id"] = event.message_id
    if event.room_id:
        body.update(room=event.room_name, room_id=event.room_id, from_user=event.sender_id)
    else:
        body.update(from_user=event.sender_id, to_user=event.recipient_id)
    if isinstance(event, MessageEdited):
        body.update(content=event.content, edited_at=stamp(event.edited_at))
    elif isinstance(event, ReactionChanged):
        body.update(user_id=event.user_id, reaction=event.reaction, added=event.added)
    return body


def mention(event: MessageMentioned) -> Body:
    """The caller was mentioned in a room message (joined or not): the
    message as it is now, empty once deleted."""
    return {
        "type": "mention",
        "event_id": event.id,
        "id": event.message_id,
        "room": event.room_name,
        "room_id": event.room_id,
        "from_user": event.author_id,
        "content": event.content,
    }


async def _room(room: RoomSync, viewer_id: int, wire: Wire) -> Body:
    return {
        "room": room.room.name,
        "room_id": room.room.id,
        "joined": room.joined,
        "messages": await wire.messages(room.messages, viewer_id),
        "limited": room.limited,
        "before": room.before,
        "changes": [change(c, wire.stamp) for c in room.changes],
        "changes_limited": room.changes_limited,
    }


async def render(found: SyncResult, viewer_id: int, wire: Wire) -> Body:
    """The sync body of ``found`` (:func:`resolvers.sync.sync`) for its caller."""
    return {
        "next": found.next,
        "rooms": [await _room(r, viewer_id, wire) for r in found.rooms],
        "left": found.left,
        "dms": await wire.messages(found.dms, viewer_id),
        "dms_limited": found.dms_limited,
        "dm_changes": [change(c, wire.stamp) for c in found.dm_changes],
        "dm_changes_limited": found.dm_changes_limited,
        "read_markers": [m.as_dict() for m in found.markers],
        "mentions": [mention(m) for m in found.mentions],
    }
