"""What the ``read``, ``unread`` and ``sync`` frames do: a translation onto
``resolvers.read_markers`` and ``resolvers.sync``."""

from __future__ import annotations

from resolvers import read_markers
from resolvers import sync as syncing
from ws import event_frames, frames, read_frames
from ws.client import Client


async def read(client: Client, frame: read_frames.Read) -> None:
    if frame.room is not None:
        marker = await read_markers.mark_room_read(
            actor=client.user, room=frame.room, message_id=frame.id
        )
    else:
        marker = await read_markers.mark_dm_read(
            actor=client.user, with_user=frame.with_user, message_id=frame.id
        )
    await client.reply(frames.with_ref(read_frames.marker_frame(marker), frame.ref))


async def unread(client: Client, frame: read_frames.UnreadCounts) -> None:
    rows = await read_markers.unread_counts(actor=client.user)
    reply = {
        "type": "unread",
        "rooms": [u.as_dict() for u in rows if u.room_id],
        "dms": [u.as_dict() for u in rows if not u.room_id],
    }
    await client.reply(frames.with_ref(reply, frame.ref))


async def sync(client: Client, frame: read_frames.Sync) -> None:
    """The ``sync`` reply: the shape of ``GET /chat/sync`` with ``type``."""
    found = await syncing.sync(actor=client.user, since=frame.since)
    viewer = client.user.id
    rooms = [
        {
            "room": r.room.name,
            "room_id": r.room.id,
            "joined": r.joined,
            "messages": await event_frames.history_items(r.messages, viewer),
            "limited": r.limited,
            "before": r.before,
            "changes": [event_frames.change_frame(c) for c in r.changes],
            "changes_limited": r.changes_limited,
        }
        for r in found.rooms
    ]
    reply = {
        "type": "sync",
        "next": found.next,
        "rooms": rooms,
        "left": found.left,
        "dms": await event_frames.history_items(found.dms, viewer),
        "dms_limited": found.dms_limited,
        "dm_changes": [event_frames.change_frame(c) for c in found.dm_changes],
        "dm_changes_limited": found.dm_changes_limited,
        "read_markers": [m.as_dict() for m in found.markers],
    }
    await client.reply(frames.with_ref(reply, frame.ref))
