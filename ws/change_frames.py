"""Frames of messages that change (issue 14): edit, delete, react, and
the change events the server sends. Parsed like every frame
(:mod:`ws.frames`, which lists them in its ``PARSERS``); rules are in
``resolvers.message_changes`` and ``resolvers.reactions``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from models import DirectMessage, Message
from resolvers import attachments, reactions, replies
from resolvers.change_events import (
    MessageDeleted,
    MessageEdited,
    MessageMentioned,
    ReactionChanged,
)
from resolvers.events import DirectMessageSent, MessagePosted
from resolvers.reactions import ReactionCount

if TYPE_CHECKING:
    from ws.frames import Ref, _Fields


def timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Edit:
    """``edit`` (a room message) or ``dm_edit`` (a direct message)."""

    ref: Ref
    id: int
    content: str
    dm: bool


@dataclass(frozen=True, slots=True)
class Delete:
    """``delete`` (a room message) or ``dm_delete`` (a direct message)."""

    ref: Ref
    id: int
    dm: bool


@dataclass(frozen=True, slots=True)
class React:
    """``react``/``unreact`` (room message), ``dm_react``/``dm_unreact`` (DM)."""

    ref: Ref
    id: int
    reaction: str
    add: bool
    dm: bool


@dataclass(frozen=True, slots=True)
class Reactions:
    """``reactions`` (room message) or ``dm_reactions``: who reacted."""

    ref: Ref
    id: int
    dm: bool


def edit_parser(dm: bool) -> Callable[[_Fields], Edit]:
    return lambda f: Edit(
        ref=f.ref, id=f.user_id("id"), content=f.required_string("content"), dm=dm
    )


def delete_parser(dm: bool) -> Callable[[_Fields], Delete]:
    return lambda f: Delete(ref=f.ref, id=f.user_id("id"), dm=dm)


def react_parser(add: bool, dm: bool) -> Callable[[_Fields], React]:
    return lambda f: React(
        ref=f.ref, id=f.user_id("id"), reaction=f.required_string("reaction"), add=add, dm=dm
    )


def reactions_parser(dm: bool) -> Callable[[_Fields], Reactions]:
    return lambda f: Reactions(ref=f.ref, id=f.user_id("id"), dm=dm)


def with_reactions(item: dict[str, Any], counts: Sequence[ReactionCount]) -> dict[str, Any]:
    """A history item with its reactions (when it has any): each with its
    count and whether the viewer (``me``) is among those who reacted."""
    if counts:
        item["reactions"] = [
            {"reaction": c.reaction, "count": c.count, "me": c.mine} for c in counts
        ]
    return item


ChangeEvent: TypeAlias = MessageEdited | MessageDeleted | ReactionChanged
_CHANGE_TYPES = {
    MessageEdited: ("message_edited", "dm_edited"),
    MessageDeleted: ("message_deleted", "dm_deleted"),
    ReactionChanged: ("reaction", "dm_reaction"),
}


def change_frame(event: ChangeEvent) -> dict[str, Any]:
    """A change of a message: ``event_id`` is where a resuming client's
    ``after`` goes; ``id`` is the message's."""
    room_type, dm_type = _CHANGE_TYPES[type(event)]
    frame: dict[str, Any] = {"type": room_type if event.room_id else dm_type}
    frame["event_id"] = event.id
    frame["id"] = event.message_id
    if event.room_id:
        frame["room"] = event.room_name
        frame["room_id"] = event.room_id
        frame["from_user"] = event.sender_id
    else:
        frame["from_user"] = event.sender_id
        frame["to_user"] = event.recipient_id
    match event:
        case MessageEdited():
            frame["content"] = event.content
            frame["edited_at"] = timestamp(event.edited_at)
        case ReactionChanged():
            frame["user_id"] = event.user_id
            frame["reaction"] = event.reaction
            frame["added"] = event.added
    return frame


async def history_items(
    rows: Sequence[Message | DirectMessage], viewer_id: int
) -> list[dict[str, Any]]:
    """History items: message (or DM) frames without ``type``, with what
    they reply to and their reactions; two or three queries per page."""
    from ws.frames import dm_frame, message_frame, without_type

    ids = [row.id for row in rows]
    dm = bool(rows) and isinstance(rows[0], DirectMessage)
    counts = await reactions.summaries(viewer_id=viewer_id, ids=ids, dm=dm)
    reps = await replies.of_rows(rows)
    files = await attachments.of_messages(ids, dm=dm)
    items = []
    for row in rows:
        reply = reps.get(row.reply_to_id or 0)
        if isinstance(row, DirectMessage):
            frame = dm_frame(DirectMessageSent.from_row(row, reply, files[row.id]))
        else:
            frame = message_frame(MessagePosted.from_row(row, reply, files[row.id]))
        items.append(with_reactions(without_type(frame), counts[row.id]))
    return items


def mention_frame(event: MessageMentioned) -> dict[str, Any]:
    """The caller was mentioned in a room message (on every connection of theirs)."""
    return {
        "type": "mention",
        "event_id": event.id,
        "id": event.message_id,
        "room": event.room_name,
        "room_id": event.room_id,
        "from_user": event.author_id,
        "content": event.content,
    }
