"""Domain events as the frames the server sends: live, and as history items.

Each event (:mod:`resolvers.events`, :mod:`resolvers.change_events`) is
rendered here once, without I/O. A room message and a direct message differ
only in the ids that come first (:func:`posted_frame`); a change of either
only in its ``type`` and those ids (:func:`change_frame`). History items are
the same frames without ``type``, with their reactions (:func:`history_items`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from models import DirectMessage, Message
from models.records import RoomMessageRow
from resolvers import posted, sync_view
from resolvers.change_events import (
    ChangeEvent,
    MessageDeleted,
    MessageEdited,
    MessageMentioned,
    ReactionChanged,
)
from resolvers.events import DirectMessageSent, Event, MessagePosted
from resolvers.marker_events import ReadMarkerMoved
from resolvers.reactions import ReactionCount
from resolvers.search import SearchPage
from resolvers.signal_events import PresenceChanged, TypingStarted
from ws.frames import timestamp
from ws.presence_frames import signal_frame
from ws.read_frames import marker_event_frame


def posted_frame(event: MessagePosted | DirectMessageSent) -> dict[str, Any]:
    """A ``message`` or ``dm`` frame. An edited message adds ``edited_at``; a
    tombstone, ``deleted: true`` (and empty content); what it replies to,
    its mentions and attachments appear when it has any. Unchanged messages
    keep their original shape."""
    if isinstance(event, MessagePosted):
        frame: dict[str, Any] = {"type": "message", "id": event.id, "room": event.room_name}
        frame.update(room_id=event.room_id, from_user=event.author_id)
    else:
        frame = {"type": "dm", "id": event.id}
        frame.update(from_user=event.sender_id, to_user=event.recipient_id)
    frame.update(
        content=event.content, timestamp=timestamp(event.created_at), client_id=event.client_id
    )
    if event.edited_at is not None:
        frame["edited_at"] = timestamp(event.edited_at)
    if event.deleted:
        frame["deleted"] = True
    if event.reply_to_id is not None:
        frame["reply_to"] = reply_to(event)
    if isinstance(event, MessagePosted) and event.mentions:
        frame["mentions"] = list(event.mentions)
    if event.attachments:
        frame["attachments"] = [{**a, "url": f"/files/{a['id']}"} for a in event.attachments]
    return frame


def reply_to(event: MessagePosted | DirectMessageSent) -> dict[str, Any]:
    """What a message replies to, as it is now: a tombstone once deleted."""
    return {
        "id": event.reply_to_id,
        "from_user": event.reply_author_id,
        "preview": event.reply_preview or "",
        "deleted": event.reply_preview is None,
    }


def change_frame(event: ChangeEvent) -> dict[str, Any]:
    """A change of a message (``resolvers.sync_view``, the shape REST's sync shows too)."""
    return sync_view.change(event, timestamp)


def mention_frame(event: MessageMentioned) -> dict[str, Any]:
    """The caller was mentioned in a room message (on every connection of
    theirs; ``resolvers.sync_view``, as sync shows it)."""
    return sync_view.mention(event)


def event_frame(event: Event) -> dict[str, Any] | None:
    """The frame of a live event; None for a kind this door does not forward."""
    match event:
        case MessagePosted() | DirectMessageSent():
            return posted_frame(event)
        case MessageEdited() | MessageDeleted() | ReactionChanged():
            return change_frame(event)
        case MessageMentioned():
            return mention_frame(event)
        case ReadMarkerMoved():
            return marker_event_frame(event)
        case PresenceChanged() | TypingStarted():
            return signal_frame(event)
    return None


# --- history items ---------------------------------------------------------------


def without_type(event: Mapping[str, Any]) -> dict[str, Any]:
    """A ``message``/``dm`` frame as an item of a history frame."""
    return {k: v for k, v in event.items() if k != "type"}


def with_reactions(item: dict[str, Any], counts: Sequence[ReactionCount]) -> dict[str, Any]:
    """A history item with its reactions (when it has any): each with its
    count and whether the viewer (``me``) is among those who reacted."""
    if counts:
        item["reactions"] = [
            {"reaction": c.reaction, "count": c.count, "me": c.mine} for c in counts
        ]
    return item


async def history_items(
    rows: Sequence[Message | RoomMessageRow | DirectMessage], viewer_id: int
) -> list[dict[str, Any]]:
    """History items: message (or DM) frames without ``type``, with what
    they reply to and their reactions (:func:`resolvers.posted.shown`)."""
    return [
        with_reactions(without_type(posted_frame(event)), counts)
        for event, counts in await posted.shown(rows, viewer_id)
    ]


async def search_results(page: SearchPage, viewer_id: int) -> dict[str, Any]:
    rooms = await history_items(page.rooms(), viewer_id)
    dms = await history_items(page.dms(), viewer_id)
    results = page.results(rooms, dms)
    return {"type": "search_results", "results": results, "next_after": page.next_after()}
