"""What the ``read``, ``unread`` and ``sync`` frames do: a translation onto
``resolvers.read_markers`` and ``resolvers.sync``."""

from __future__ import annotations

from resolvers import read_markers, sync_view
from resolvers import sync as syncing
from ws import event_frames, frames, read_frames
from ws.client import Client

SYNC_WIRE = sync_view.Wire(messages=event_frames.history_items, stamp=frames.timestamp)


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
    """The ``sync`` reply: the body of ``GET /chat/sync`` with ``type``
    (``resolvers.sync_view``)."""
    found = await syncing.sync(actor=client.user, since=frame.since)
    body = await sync_view.render(found, client.user.id, SYNC_WIRE)
    await client.reply(frames.with_ref({"type": "sync", **body}, frame.ref))
