"""Typed events of messages that change: edited, deleted, reacted to.

Each belongs to the channels of its conversation (a room's, or both DM
parties'), and its ``id`` is the change's ``seq`` in the change log
(:class:`models.MessageChange`): the same id space as the conversation's
messages, so a channel's messages and changes share one order and a client
resumes ``after`` the largest id it saw, message or change
(:mod:`resolvers.message_changes`).

What every change says about its message and conversation is
:class:`ConversationChange`, once: ``room_id`` is 0 for a direct message;
``sender_id``/``recipient_id`` are the message's author and, for a DM, its
recipient (0 for a room message).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from models import DirectMessage, Message, MessageChange, Room
from models.fields import utc
from resolvers.events import register, room_channel, user_channel

EDITED = "edited"
DELETED = "deleted"
REACTED = "reacted"
UNREACTED = "unreacted"
MENTIONED = "mention"


def conversation_channels(room_id: int, sender_id: int, recipient_id: int) -> tuple[str, ...]:
    if room_id:
        return (room_channel(room_id),)
    return (user_channel(sender_id), user_channel(recipient_id))


@dataclass(frozen=True, slots=True)
class ConversationChange:
    """The fields every change of a message carries, first and in this
    order (the broker document keeps it); not an event kind itself."""

    kind: ClassVar[str]
    id: int
    message_id: int
    room_id: int
    room_name: str
    sender_id: int
    recipient_id: int

    def channels(self) -> tuple[str, ...]:
        return conversation_channels(self.room_id, self.sender_id, self.recipient_id)


@register
@dataclass(frozen=True, slots=True)
class MessageEdited(ConversationChange):
    kind: ClassVar[str] = "message_edited"
    content: str
    edited_at: datetime


@register
@dataclass(frozen=True, slots=True)
class MessageDeleted(ConversationChange):
    """A message became a tombstone (its content and reactions are gone)."""

    kind: ClassVar[str] = "message_deleted"


@register
@dataclass(frozen=True, slots=True)
class ReactionChanged(ConversationChange):
    """``user_id`` added (``added``) or removed a reaction."""

    kind: ClassVar[str] = "reaction"
    user_id: int
    reaction: str
    added: bool


@register
@dataclass(frozen=True, slots=True)
class MessageMentioned:
    """``user_id`` was mentioned in a room message: on that user's own
    channel (its id is in the user's DM id space, see resolvers.mentions)."""

    kind: ClassVar[str] = "mention"
    id: int
    message_id: int
    room_id: int
    room_name: str
    author_id: int
    user_id: int
    content: str  # as it is now; "" once deleted
    deleted: bool

    def channels(self) -> tuple[str, ...]:
        return (user_channel(self.user_id),)

    @classmethod
    def from_row(cls, seq: int, user_id: int, row: Message | None) -> MessageMentioned:
        """From the mentioning message (whose room is loaded); None: gone."""
        if row is None or not isinstance(row.room, Room):
            return cls(seq, 0, 0, "", 0, user_id, "", True)
        return cls(
            id=seq,
            message_id=row.id,
            room_id=row.room.id,
            room_name=row.room.name,
            author_id=row.author_id,
            user_id=user_id,
            content="" if row.deleted else row.content,
            deleted=row.deleted,
        )


ChangeEvent = MessageEdited | MessageDeleted | ReactionChanged


def parties(row: Message | DirectMessage) -> tuple[int, int, int, str]:
    """``(room_id, sender_id, recipient_id, room_name)`` of a message whose
    room (for a room message) is loaded."""
    if isinstance(row, Message):
        room = row.room
        if not isinstance(room, Room):
            raise TypeError("a room message's room must be loaded")
        return room.id, row.author_id, 0, room.name
    return 0, row.sender_id, row.recipient_id, ""


def conversation_fields(seq: int, row: Message | DirectMessage) -> dict[str, Any]:
    """The :class:`ConversationChange` fields of change ``seq`` of ``row``."""
    room_id, sender, recipient, room_name = parties(row)
    return {
        "id": seq,
        "message_id": row.id,
        "room_id": room_id,
        "room_name": room_name,
        "sender_id": sender,
        "recipient_id": recipient,
    }


def from_change(change: MessageChange, row: Message | DirectMessage | None) -> ChangeEvent:
    """The event of a stored change, as the message is *now*.

    An edit shows the current content; any change of a message deleted
    since then replays as its deletion (content never comes back)."""
    if row is None:  # gone with its room or its author
        return MessageDeleted(change.seq, change.message_id, 0, "", 0, 0)
    common = conversation_fields(change.seq, row)
    if row.deleted or change.kind == DELETED:
        return MessageDeleted(**common)
    if change.kind == EDITED:
        edited = row.edited_at or change.created_at
        return MessageEdited(**common, content=row.content, edited_at=utc(edited))
    return ReactionChanged(
        **common,
        user_id=change.actor_id,
        reaction=change.reaction or "",
        added=change.kind == REACTED,
    )
