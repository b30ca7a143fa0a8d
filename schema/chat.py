"""Chat on GraphQL: rooms, messages, direct messages and their subscriptions.

Types keep only ids of their relations and load them through the
per-request DataLoaders (``schema.loaders``): a page of 50 messages costs the
same few queries as a page of 5.

Subscriptions (graphql-transport-ws; ``context.user`` is set by
``connection_init``) check access first, then listen to the live module's
feed of the channel (``resolvers.live``: replay after ``after``, then live,
in id order across processes, no gap, no duplicate) and render each event
as a GraphQL type. They end when the connection's session does
(``schema.subscriptions``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import strawberry

from core.errors import ComptoirError, NotFound
from models import DirectMessage as DirectMessageRow
from models import Message as MessageRow
from models import Room as RoomRow
from resolvers import chat, limits
from resolvers.events import (
    DirectMessageSent,
    Event,
    MessagePosted,
    room_channel,
    user_channel,
)
from resolvers.limits import MAX_PAGE
from schema import loaders
from schema.attachment_types import AttachedFileType, attachments_of
from schema.context import Context, Info
from schema.fanout import VIEWER_DEPENDENT, LiveSource
from schema.fast import prefetched
from schema.limits import DEFAULT_PAGE
from schema.pagination import PageInfo, cursors, edges, page_info
from schema.reaction_types import ReactionSummary, summaries_of
from schema.reply_types import ReplyTo, reply_of
from schema.subscriptions import graphql_error, live_claims
from schema.users import User


async def _user(context: Context, user_id: int) -> User:
    row = await loaders.users_by_id(context).load(user_id)
    if row is None:
        raise NotFound("User not found.")
    return User.from_row(row)


@strawberry.type
class Room:
    id: strawberry.ID
    name: str = strawberry.field(
        description="Unique, 1..64 characters, not all digits (rooms are also named by id)."
    )
    is_private: bool
    created_at: datetime
    _row_id: strawberry.Private[int]
    _created_by_id: strawberry.Private[int | None]

    @strawberry.field
    async def created_by(self, info: Info) -> User | None:
        if self._created_by_id is None:
            return None
        row = await loaders.users_by_id(info.context).load(self._created_by_id)
        return User.from_row(row) if row else None

    @strawberry.field(
        description="Visible to members only: empty for anyone else. A page in join order: "
        f"the first `first` (default {limits.MEMBERS_PAGE_DEFAULT}, at most {MAX_PAGE}) after "
        "the member whose user id is `after`; a page shorter than `first` is the last.",
        metadata=VIEWER_DEPENDENT,
    )
    async def members(
        self,
        info: Info,
        first: int = limits.MEMBERS_PAGE_DEFAULT,
        after: strawberry.ID | None = None,
    ) -> list[User]:
        key = (self._row_id, first, None if after is None else str(after))
        rows = await loaders.room_members(info.context).load(key)
        return [User.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, row: RoomRow) -> Room:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            is_private=row.is_private,
            created_at=row.created_at,
            _row_id=row.id,
            _created_by_id=getattr(row, "created_by_id", None),
        )


@strawberry.type
class Message:
    id: strawberry.ID
    content: str = strawberry.field(
        description="1..4000 characters, as sent or last edited; empty once deleted."
    )
    client_id: str | None = strawberry.field(
        description="The sender's idempotency key, if it gave one."
    )
    created_at: datetime
    edited_at: datetime | None = strawberry.field(description="When it was last edited.")
    deleted: bool = strawberry.field(
        description="A tombstone: id and time kept, content and reactions gone."
    )
    _room_id: strawberry.Private[int]
    _author_id: strawberry.Private[int]
    _reply_to_id: strawberry.Private[int | None]
    _mentions: strawberry.Private[tuple[int, ...]]
    # Set when the page's authors were loaded in one batch (``room_messages``).
    _author: strawberry.Private[User | None] = None

    @strawberry.field(description="Members mentioned (@displayName or <@id>) who can see the room.")
    async def mentions(self, info: Info) -> list[User]:
        rows = await loaders.users_by_id(info.context).load_many(list(self._mentions))
        return [User.from_row(r) for r in rows if r is not None]

    @strawberry.field
    async def room(self, info: Info) -> Room:
        row = await loaders.rooms_by_id(info.context).load(self._room_id)
        if row is None:
            raise NotFound(chat.ROOM_NOT_FOUND)
        return Room.from_row(row)

    @strawberry.field(metadata=prefetched("_author"))
    async def author(self, info: Info) -> User:
        if self._author is not None:
            return self._author
        return await _user(info.context, self._author_id)

    @strawberry.field(description="Each reaction with its count; none once deleted.")
    async def reactions(self, info: Info) -> list[ReactionSummary]:
        return await summaries_of(info, int(self.id), dm=False)

    @strawberry.field(description="Files of the sender's; none once deleted.")
    async def attachments(self, info: Info) -> list[AttachedFileType]:
        return await attachments_of(info, int(self.id), dm=False)

    @strawberry.field(description="The message of the same room this one replies to.")
    async def reply_to(self, info: Info) -> ReplyTo | None:
        return await reply_of(info, self._reply_to_id, dm=False)

    @classmethod
    def from_row(cls, row: MessageRow) -> Message:
        return cls(
            id=strawberry.ID(str(row.id)),
            content=row.content,
            client_id=row.client_id,
            created_at=row.created_at,
            edited_at=row.edited_at,
            deleted=row.deleted,
            _room_id=chat.fk(row, "room"),
            _author_id=chat.fk(row, "author"),
            _reply_to_id=row.reply_to_id,
            _mentions=tuple(int(i) for i in row.mentions.split(",") if i),
        )

    @classmethod
    def from_event(cls, event: MessagePosted) -> Message:
        return cls(
            id=strawberry.ID(str(event.id)),
            content=event.content,
            client_id=event.client_id,
            created_at=event.created_at,
            edited_at=event.edited_at,
            deleted=event.deleted,
            _room_id=event.room_id,
            _author_id=event.author_id,
            _reply_to_id=event.reply_to_id,
            _mentions=tuple(event.mentions),
        )


@strawberry.type
class MessageEdge:
    cursor: str
    node: Message


@strawberry.type
class MessageConnection:
    edges: list[MessageEdge]
    page_info: PageInfo


@strawberry.type
class DirectMessage:
    id: strawberry.ID
    content: str = strawberry.field(description="As sent or last edited; empty once deleted.")
    client_id: str | None
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    _from_id: strawberry.Private[int]
    _to_id: strawberry.Private[int]
    _reply_to_id: strawberry.Private[int | None]

    @strawberry.field
    async def from_user(self, info: Info) -> User:
        return await _user(info.context, self._from_id)

    @strawberry.field
    async def to_user(self, info: Info) -> User:
        return await _user(info.context, self._to_id)

    @strawberry.field(description="Each reaction with its count; none once deleted.")
    async def reactions(self, info: Info) -> list[ReactionSummary]:
        return await summaries_of(info, int(self.id), dm=True)

    @strawberry.field(description="Files of the sender's; none once deleted.")
    async def attachments(self, info: Info) -> list[AttachedFileType]:
        return await attachments_of(info, int(self.id), dm=True)

    @strawberry.field(description="The message of the same conversation this one replies to.")
    async def reply_to(self, info: Info) -> ReplyTo | None:
        return await reply_of(info, self._reply_to_id, dm=True)

    @classmethod
    def from_row(cls, row: DirectMessageRow) -> DirectMessage:
        return cls(
            id=strawberry.ID(str(row.id)),
            content=row.content,
            client_id=row.client_id,
            created_at=row.created_at,
            edited_at=row.edited_at,
            deleted=row.deleted,
            _from_id=chat.fk(row, "sender"),
            _to_id=chat.fk(row, "recipient"),
            _reply_to_id=row.reply_to_id,
        )

    @classmethod
    def from_event(cls, event: DirectMessageSent) -> DirectMessage:
        return cls(
            id=strawberry.ID(str(event.id)),
            content=event.content,
            client_id=event.client_id,
            created_at=event.created_at,
            edited_at=event.edited_at,
            deleted=event.deleted,
            _from_id=event.sender_id,
            _to_id=event.recipient_id,
            _reply_to_id=event.reply_to_id,
        )


@strawberry.type
class DirectMessageEdge:
    cursor: str
    node: DirectMessage


@strawberry.type
class DirectMessageConnection:
    edges: list[DirectMessageEdge]
    page_info: PageInfo


def _selects(selections: Sequence[Any], name: str) -> bool:
    """Whether a field called ``name`` is selected anywhere below ``selections``."""
    return any(
        getattr(s, "name", None) == name or _selects(getattr(s, "selections", ()), name)
        for s in selections
    )


async def _prefetch_authors(context: Context, messages: list[Message]) -> None:
    """A page's authors in one batch, so that ``author`` resolves without an await each."""
    loader = loaders.users_by_id(context)
    rows = await loader.load_many(sorted({m._author_id for m in messages}))
    found = {row.id: User.from_row(row) for row in rows if row is not None}
    for message in messages:
        message._author = found.get(message._author_id)


def _prime_rooms(info: Info, rows: list[RoomRow]) -> None:
    loaders.prime(loaders.rooms_by_id(info.context), rows)


@strawberry.type
class ChatQueries:
    @strawberry.field(
        description="Public rooms and the private rooms the caller belongs to, a page by id: "
        f"the first `first` (default {limits.ROOMS_PAGE_DEFAULT}, at most {MAX_PAGE}) after the "
        "room id `after`; a page shorter than `first` is the last."
    )
    async def rooms(
        self, info: Info, first: int = limits.ROOMS_PAGE_DEFAULT, after: strawberry.ID | None = None
    ) -> list[Room]:
        rows = await chat.list_rooms(actor=info.context.user, first=first, after=after)
        return [Room.from_row(r) for r in rows]

    @strawberry.field(
        description="A room by id or name; null if it does not exist or is private "
        "and the caller is not a member."
    )
    async def room(self, info: Info, room: str) -> Room | None:
        try:
            row = await chat.resolve_room(actor=info.context.user, room=room)
        except NotFound:
            return None
        return Room.from_row(row)

    @strawberry.field(
        description="A room's history, oldest first within a page; the last 50 by default, "
        "at most 100. Private rooms: members only.",
        metadata={DEFAULT_PAGE: limits.HISTORY_DEFAULT},
    )
    async def room_messages(
        self,
        info: Info,
        room: str,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> MessageConnection:
        after_id, before_id = cursors(after, before)
        found, page = await chat.room_messages(
            actor=info.context.user,
            room=room,
            first=first,
            after=after_id,
            last=last,
            before=before_id,
        )
        _prime_rooms(info, [found])
        connection = MessageConnection(
            edges=edges(page, Message.from_row, MessageEdge), page_info=page_info(page)
        )
        if _selects(info.selected_fields, "author"):
            await _prefetch_authors(info.context, [edge.node for edge in connection.edges])
        return connection

    @strawberry.field(
        description="The conversation between the caller and withUser, oldest first within "
        "a page; the last 50 by default, at most 100.",
        metadata={DEFAULT_PAGE: limits.HISTORY_DEFAULT},
    )
    async def direct_messages(
        self,
        info: Info,
        with_user: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> DirectMessageConnection:
        after_id, before_id = cursors(after, before)
        page = await chat.direct_messages(
            actor=info.context.user,
            with_user=with_user,
            first=first,
            after=after_id,
            last=last,
            before=before_id,
        )
        return DirectMessageConnection(
            edges=edges(page, DirectMessage.from_row, DirectMessageEdge),
            page_info=page_info(page),
        )


@strawberry.type
class ChatMutations:
    @strawberry.mutation(description="The creator becomes a member.")
    async def create_room(self, info: Info, name: str, is_private: bool = False) -> Room:
        row = await chat.create_room(actor=info.context.user, name=name, is_private=is_private)
        return Room.from_row(row)

    @strawberry.mutation(description="Public rooms only (idempotent).")
    async def join_room(self, info: Info, room: str) -> Room:
        return Room.from_row(await chat.join_room(actor=info.context.user, room=room))

    @strawberry.mutation(description="Members of a room add others.")
    async def add_room_member(self, info: Info, room: str, user_id: strawberry.ID) -> Room:
        row = await chat.add_room_member(actor=info.context.user, room=room, user_id=user_id)
        return Room.from_row(row)

    @strawberry.mutation(
        description="Public room or member. clientId makes the send idempotent: the same "
        "author, clientId, room and content return the message already stored; the same "
        "clientId with another room or content is CONFLICT."
    )
    async def send_message(
        self,
        info: Info,
        room: str,
        content: str,
        client_id: str | None = None,
        reply_to: strawberry.ID | None = None,
        attachments: list[strawberry.ID] | None = None,
    ) -> Message:
        row = await chat.send_message(
            actor=info.context.user,
            room=room,
            content=content,
            client_id=client_id,
            reply_to=reply_to,
            attachments=attachments,
        )
        _prime_rooms(info, [row.room])
        return Message.from_row(row)

    @strawberry.mutation(
        description="Idempotent by clientId, like sendMessage (another recipient or content "
        "is CONFLICT)."
    )
    async def send_direct_message(
        self,
        info: Info,
        to: strawberry.ID,
        content: str,
        client_id: str | None = None,
        reply_to: strawberry.ID | None = None,
        attachments: list[strawberry.ID] | None = None,
    ) -> DirectMessage:
        row = await chat.send_direct_message(
            actor=info.context.user,
            to=to,
            content=content,
            client_id=client_id,
            reply_to=reply_to,
            attachments=attachments,
        )
        return DirectMessage.from_row(row)


def _message_of(event: Event) -> Message | None:
    return Message.from_event(event) if isinstance(event, MessagePosted) else None


def _dm_of(event: Event) -> DirectMessage | None:
    return DirectMessage.from_event(event) if isinstance(event, DirectMessageSent) else None


@strawberry.type
class ChatSubscriptions:
    @strawberry.subscription(
        description="New messages of a room (same access rule as Query.roomMessages). With "
        "`after` (a message id, or a cursor from Query.roomMessages), first every stored "
        "message after it, then live ones: in id order, no gap and no duplicate, whichever "
        "server process took each send."
    )
    async def room_messages(
        self, info: Info, room: str, after: strawberry.ID | None = None
    ) -> AsyncIterator[Message]:
        claims = live_claims(info.context)
        try:
            found = await chat.resolve_room(actor=info.context.user, room=room)
            after_id = None if after is None else chat.check_after(after)
        except ComptoirError as error:
            raise graphql_error(error) from None
        return LiveSource(claims, room_channel(found.id), after_id, _message_of)

    @strawberry.subscription(
        description="Every new DM to or from the caller; with `after`, the stored ones "
        "after it first, as for roomMessages."
    )
    async def direct_messages(
        self, info: Info, after: strawberry.ID | None = None
    ) -> AsyncIterator[DirectMessage]:
        claims = live_claims(info.context)
        user = info.context.user
        assert user is not None
        try:
            after_id = None if after is None else chat.check_after(after)
        except ComptoirError as error:
            raise graphql_error(error) from None
        return LiveSource(claims, user_channel(user.id), after_id, _dm_of)
