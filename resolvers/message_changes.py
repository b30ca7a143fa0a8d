"""Messages that change: edit and delete, for room messages and DMs alike.

The rules, once for every door:

- only the author edits, within ``MESSAGE_EDIT_WINDOW_SECONDS`` of the send
  (0: no limit), with the content rules of a send; an edit counts against
  the message rate limit; the message then carries ``edited_at``;
- the author or an ADMIN deletes a room message; in a DM only its author
  does. A deleted message stays a tombstone: id and time kept, content
  (``""``) and reactions gone from every door, ``deleted`` true. Deleting
  a tombstone again changes nothing;
- a message the caller may not read is NOT_FOUND (never FORBIDDEN); one it
  may read but not change is FORBIDDEN.

How a resuming client learns of changes (the decision of issue 14): every
change is a row of the conversation's change log (``message_changes``)
whose ``seq`` is taken from the *same id sequence as the conversation's
messages* (``messages.id`` for a room, ``direct_messages.id`` for DMs),
under the same row lock as a send. A live channel's messages and changes
thus share one strictly increasing id in commit order; ``prev_id`` and gap
fills work unchanged, and ``after`` (a message id, a history cursor or a
change's ``event_id``) replays every later message *and* every later
change, including changes to messages older than the cursor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core import runtime
from core.errors import Conflict, Forbidden, NotFound
from core.transactions import transaction
from models import DirectMessage, Message, MessageChange, Reaction, Room, User
from resolvers import attachments, live, locks, mentions, permissions, rooms, sending, validation
from resolvers.change_events import (
    DELETED,
    EDITED,
    ChangeEvent,
    MessageDeleted,
    MessageEdited,
    conversation_channels,
    conversation_fields,
    parties,
)
from resolvers.live import sources
from resolvers.sequences import next_seq
from resolvers.users import require_user

MESSAGE_NOT_FOUND = "Message not found."
DELETED_ALREADY = "This message was deleted."


@dataclass
class Target:
    """A message the actor may read: a room message (``room`` set) or a DM."""

    row: Message | DirectMessage
    room: Room | None = None

    @property
    def is_dm(self) -> bool:
        return isinstance(self.row, DirectMessage)

    @property
    def author_id(self) -> int:
        return self.row.sender_id if isinstance(self.row, DirectMessage) else self.row.author_id

    @property
    def table(self) -> str:
        return "direct_messages" if self.is_dm else "messages"

    def channels(self) -> tuple[str, ...]:
        room_id, sender, recipient, _ = parties(self.row)
        return conversation_channels(room_id, sender, recipient)

    def scope(self) -> dict[str, Any]:
        """The change log's columns naming this message's conversation."""
        if isinstance(self.row, DirectMessage):
            return {"user_low": self.row.user_low, "user_high": self.row.user_high}
        return {"room_id": self.row.room_id}


# --- finding a message -------------------------------------------------------------------


async def room_message(*, actor: User | None, message_id: object, room: object = None) -> Target:
    """A room message the actor may read; with ``room``, it must be in it."""
    user = require_user(actor)
    mid = validation.parse_id(message_id, "id")
    row = await Message.get_or_none(id=mid).select_related("room")
    if row is None:
        raise NotFound(MESSAGE_NOT_FOUND)
    try:
        found = await rooms.resolve_room(actor=user, room=row.room if room is None else room)  # type: ignore[arg-type]
    except NotFound:
        raise NotFound(MESSAGE_NOT_FOUND) from None
    if found.id != row.room.id:
        raise NotFound(MESSAGE_NOT_FOUND)
    return Target(row, found)


async def direct_message(
    *, actor: User | None, message_id: object, with_user: object = None
) -> Target:
    """A DM the actor is a party to; with ``with_user``, of that conversation."""
    user = require_user(actor)
    mid = validation.parse_id(message_id, "id")
    row = await DirectMessage.get_or_none(id=mid)
    if row is None or user.id not in (row.sender_id, row.recipient_id):
        raise NotFound(MESSAGE_NOT_FOUND)
    if with_user is not None:
        other = validation.parse_id(with_user, "user_id")
        if {user.id, other} != {row.user_low, row.user_high}:
            raise NotFound(MESSAGE_NOT_FOUND)
    return Target(row)


# --- the change log ------------------------------------------------------------------------


async def _lock_conversation(target: Target, conn: Any) -> None:
    """The row lock a send takes: ids of the channel in commit order."""
    row = target.row
    if isinstance(row, DirectMessage):
        await (
            User.filter(id__in=[row.user_low, row.user_high])
            .order_by("id")
            .select_for_update()
            .only("id")
            .using_db(conn)
        )
    else:
        await Room.filter(id=row.room_id).select_for_update().only("id").using_db(conn)


Apply = Callable[[Any], Awaitable[bool]]


async def record_change(
    target: Target,
    actor: User,
    kind: str,
    apply: Apply,
    event: Callable[[int], ChangeEvent],
    reaction: str | None = None,
) -> bool:
    """Under the conversation's locks: re-read the message, ``apply`` the
    change (False: nothing changed, nothing logged), log it with the next
    id of the conversation, commit, publish ``event(seq)``."""
    async with locks.locked(target.channels()):
        async with transaction() as conn:
            await _lock_conversation(target, conn)
            await target.row.refresh_from_db(using_db=conn)
            if target.room is not None:
                target.row.room = target.room
            if not await apply(conn):
                return False
            seq = await next_seq(conn, target.table)
            await MessageChange.create(
                seq=seq,
                message_id=target.row.id,
                kind=kind,
                actor_id=actor.id,
                reaction=reaction,
                using_db=conn,
                **target.scope(),
            )
            prevs = {ch: await sources.prev_id(ch, seq, conn) for ch in target.channels()}
        await live.publish(event(seq), prevs)
    return True


def event_fields(target: Target, seq: int) -> dict[str, Any]:
    return conversation_fields(seq, target.row)


# --- edit and delete -------------------------------------------------------------------------


def _check_window(row: Message | DirectMessage) -> None:
    window = runtime.get().settings.message_edit_window_seconds
    if window <= 0:
        return
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    if (datetime.now(UTC) - created).total_seconds() > window:
        raise Forbidden(f"Messages can be edited for {window} seconds after they are sent.")


async def edit(target: Target, *, actor: User | None, content: object) -> Message | DirectMessage:
    """Replace a message's content (its author, within the edit window)."""
    user = require_user(actor)
    text = sending.check_content(content)
    permissions.require(permissions.Action.MESSAGE_EDIT, user, owner=target.author_id)
    if target.row.deleted:
        raise Conflict(DELETED_ALREADY)
    _check_window(target.row)
    await sending.check_rate(user)
    row = target.row
    mentioned: list[int] = []
    if isinstance(row, Message) and target.room is not None:
        mentioned = await mentions.parse(text, target.room, user.id)

    async def apply(conn: Any) -> bool:
        if row.deleted:
            raise Conflict(DELETED_ALREADY)
        row.content = text
        row.edited_at = datetime.now(UTC)
        fields = ["content", "edited_at"]
        if isinstance(row, Message):
            row.mentions = mentions.joined(mentioned)
            fields.append("mentions")
        await row.save(using_db=conn, update_fields=fields)
        return True

    def event(seq: int) -> ChangeEvent:
        assert row.edited_at is not None
        return MessageEdited(**event_fields(target, seq), content=text, edited_at=row.edited_at)

    before = mentions.stored(row) if isinstance(row, Message) else []
    await record_change(target, user, EDITED, apply, event)
    if isinstance(row, Message) and target.room is not None:
        await mentions.notify(row, target.room, [m for m in mentioned if m not in before])
    return row


async def delete(target: Target, *, actor: User | None) -> Message | DirectMessage:
    """Make a message a tombstone (author; or ADMIN, for a room message)."""
    action = permissions.Action.MESSAGE_DELETE
    if target.is_dm:
        action = permissions.Action.DIRECT_MESSAGE_DELETE
    user = permissions.require(action, actor, owner=target.author_id)
    row = target.row

    async def apply(conn: Any) -> bool:
        if row.deleted:
            return False
        row.content = ""
        row.deleted = True
        fields = ["content", "deleted"]
        if isinstance(row, Message):
            row.mentions = ""
            fields.append("mentions")
        await row.save(using_db=conn, update_fields=fields)
        key = {"dm_id": row.id} if target.is_dm else {"message_id": row.id}
        await Reaction.filter(**key).using_db(conn).delete()
        await attachments.unlink(conn=conn, message_id=row.id, dm=target.is_dm)
        return True

    def event(seq: int) -> ChangeEvent:
        return MessageDeleted(**event_fields(target, seq))

    await record_change(target, user, DELETED, apply, event)
    return row


# --- entry points for the doors ---------------------------------------------------------------


async def edit_message(
    *, actor: User | None, message_id: object, content: object, room: object = None
) -> Message:
    target = await room_message(actor=actor, message_id=message_id, room=room)
    row = await edit(target, actor=actor, content=content)
    assert isinstance(row, Message)
    return row


async def delete_message(*, actor: User | None, message_id: object, room: object = None) -> Message:
    target = await room_message(actor=actor, message_id=message_id, room=room)
    row = await delete(target, actor=actor)
    assert isinstance(row, Message)
    return row


async def edit_direct_message(
    *, actor: User | None, message_id: object, content: object, with_user: object = None
) -> DirectMessage:
    target = await direct_message(actor=actor, message_id=message_id, with_user=with_user)
    row = await edit(target, actor=actor, content=content)
    assert isinstance(row, DirectMessage)
    return row


async def delete_direct_message(
    *, actor: User | None, message_id: object, with_user: object = None
) -> DirectMessage:
    target = await direct_message(actor=actor, message_id=message_id, with_user=with_user)
    row = await delete(target, actor=actor)
    assert isinstance(row, DirectMessage)
    return row
