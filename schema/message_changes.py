"""Messages that change, on GraphQL: edit, delete, and the live changes.

The rules are in ``resolvers.message_changes``. A change reaches
subscribers of ``roomMessageChanges`` / ``directMessageChanges`` through the
live module, on the same channel and in the same id order as new messages:
``eventId`` is where ``after`` resumes (a message id or a history cursor
works too, for both subscriptions).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from enum import Enum

import strawberry

from resolvers import message_changes, permissions
from resolvers.change_events import MessageDeleted, MessageEdited, ReactionChanged
from resolvers.events import Event
from resolvers.permissions import Action
from schema.context import Info
from schema.feeds import feed
from schema.message_types import DirectMessage, Message, room_message
from schema.rooms import Room, room_by_id
from schema.users import User, user_by_id


@strawberry.enum
class MessageChangeKind(Enum):
    EDITED = "EDITED"
    DELETED = "DELETED"
    REACTION_ADDED = "REACTION_ADDED"
    REACTION_REMOVED = "REACTION_REMOVED"


@strawberry.type(description="A change of a room message or a direct message.")
class MessageChange:
    event_id: strawberry.ID = strawberry.field(
        description="The change's place in its feed: pass it as `after` to resume."
    )
    kind: MessageChangeKind
    message_id: strawberry.ID
    content: str | None = strawberry.field(description="EDITED: the new content.")
    edited_at: datetime | None = strawberry.field(description="EDITED: when.")
    reaction: str | None = strawberry.field(description="REACTION_*: which reaction.")
    _room_id: strawberry.Private[int]
    _user_id: strawberry.Private[int]

    @strawberry.field(description="The room, for a room message; null for a direct message.")
    async def room(self, info: Info) -> Room | None:
        return await room_by_id(info, self._room_id) if self._room_id else None

    @strawberry.field(description="REACTION_*: who reacted.")
    async def user(self, info: Info) -> User | None:
        return await user_by_id(info, self._user_id or None)

    @classmethod
    def from_event(cls, event: Event) -> MessageChange | None:
        content: str | None = None
        edited_at: datetime | None = None
        match event:
            case MessageEdited():
                kind, content, edited_at = MessageChangeKind.EDITED, event.content, event.edited_at
            case MessageDeleted():
                kind = MessageChangeKind.DELETED
            case ReactionChanged():
                kind = (
                    MessageChangeKind.REACTION_ADDED
                    if event.added
                    else MessageChangeKind.REACTION_REMOVED
                )
            case _:
                return None
        return cls(
            event_id=strawberry.ID(str(event.id)),
            kind=kind,
            message_id=strawberry.ID(str(event.message_id)),
            content=content,
            edited_at=edited_at,
            reaction=event.reaction if isinstance(event, ReactionChanged) else None,
            _room_id=event.room_id,
            _user_id=event.user_id if isinstance(event, ReactionChanged) else 0,
        )


@strawberry.type
class MessageChangeMutations:
    @strawberry.mutation(
        description=f"Edit a room message: {permissions.who(Action.MESSAGE_EDIT)}, within "
        "MESSAGE_EDIT_WINDOW_SECONDS "
        "of the send; same content rules as sendMessage; counts against the message rate limit."
    )
    async def edit_message(self, info: Info, id: strawberry.ID, content: str) -> Message:
        row = await message_changes.edit_message(
            actor=info.context.user, message_id=id, content=content
        )
        return room_message(info, row)

    @strawberry.mutation(
        description="Delete a room message (its author or an ADMIN): it stays in history as a "
        "tombstone (deleted: true, empty content). Deleting it again changes nothing."
    )
    async def delete_message(self, info: Info, id: strawberry.ID) -> Message:
        row = await message_changes.delete_message(actor=info.context.user, message_id=id)
        return room_message(info, row)

    @strawberry.mutation(
        description=f"Edit a direct message: {permissions.who(Action.MESSAGE_EDIT)}, "
        "as editMessage."
    )
    async def edit_direct_message(
        self, info: Info, id: strawberry.ID, content: str
    ) -> DirectMessage:
        row = await message_changes.edit_direct_message(
            actor=info.context.user, message_id=id, content=content
        )
        return DirectMessage.from_row(row)

    @strawberry.mutation(description="Delete a direct message: its author only (a tombstone).")
    async def delete_direct_message(self, info: Info, id: strawberry.ID) -> DirectMessage:
        row = await message_changes.delete_direct_message(actor=info.context.user, message_id=id)
        return DirectMessage.from_row(row)


@strawberry.type
class MessageChangeSubscriptions:
    @strawberry.subscription(
        description="Edits, deletions and reactions of a room's messages (same access rule as "
        "Query.roomMessages). `after` (an eventId, a message id or a history cursor) replays "
        "every stored change after it first, including changes to older messages."
    )
    async def room_message_changes(
        self, info: Info, room: str, after: strawberry.ID | None = None
    ) -> AsyncIterator[MessageChange]:
        return await feed(info, MessageChange.from_event, after, room)

    @strawberry.subscription(
        description="Edits, deletions and reactions of the caller's direct messages; `after` "
        "as for roomMessageChanges."
    )
    async def direct_message_changes(
        self, info: Info, after: strawberry.ID | None = None
    ) -> AsyncIterator[MessageChange]:
        return await feed(info, MessageChange.from_event, after)
