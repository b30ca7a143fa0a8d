"""The two kinds of chat message on GraphQL: ``Message`` (of a room) and
``DirectMessage``.

What they share is written once: the fields of :class:`Sent`, read alike
from a stored row or a live event, and the reactions, attachments and reply
of either kind, each loaded by one DataLoader per kind (``DM`` says which):
a page of 50 messages costs the same few queries as a page of 5. Each type
then adds its own relations (a room message's room, author and mentions; a
DM's two users), which it keeps as ids and loads through the per-request
DataLoaders (``schema.loaders``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import strawberry

from core.errors import NotFound
from models import DirectMessage as DirectMessageRow
from models import Message as MessageRow
from models.records import RoomMessageRow
from resolvers import limits, rooms
from resolvers.events import DirectMessageSent, MessagePosted
from schema import loaders
from schema.attachment_types import AttachedFileType, attachments_of
from schema.context import Info
from schema.fast import prefetched
from schema.pagination import Edge
from schema.reaction_types import ReactionSummary, summaries_of
from schema.reply_types import ReplyTo, reply_of
from schema.rooms import Room, prime_rooms, room_by_id
from schema.users import User, known_user

Source = MessageRow | RoomMessageRow | DirectMessageRow | MessagePosted | DirectMessageSent


@strawberry.type
class Sent:
    """The fields every message has, in the order the schema shows them.

    Not a type of the schema itself: ``Message`` and ``DirectMessage`` say
    which kind they are (``DM``), then add their own fields.
    """

    DM: ClassVar[bool]
    id: strawberry.ID
    content: str
    client_id: str | None
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    _reply_to_id: strawberry.Private[int | None]


def _sent(source: Source) -> dict[str, Any]:
    """The :class:`Sent` fields of a row or an event (they name them alike)."""
    return {
        "id": strawberry.ID(str(source.id)),
        "content": source.content,
        "client_id": source.client_id,
        "created_at": source.created_at,
        "edited_at": source.edited_at,
        "deleted": source.deleted,
        "_reply_to_id": source.reply_to_id,
    }


async def _reactions(root: Sent, info: Info) -> list[ReactionSummary]:
    return await summaries_of(info, int(root.id), dm=root.DM)


async def _attachments(root: Sent, info: Info) -> list[AttachedFileType]:
    return await attachments_of(info, int(root.id), dm=root.DM)


async def _reply_to(root: Sent, info: Info) -> ReplyTo | None:
    return await reply_of(info, root._reply_to_id, dm=root.DM)


def _reply_field(where: str) -> ReplyTo | None:
    return strawberry.field(
        resolver=_reply_to, description=f"The message of the same {where} this one replies to."
    )


_REACTIONS = "Each reaction with its count; none once deleted."
_ATTACHMENTS = "Files of the sender's; none once deleted."


@strawberry.type
class Message(Sent):
    DM = False
    content: str = strawberry.field(
        description=f"1..{limits.CONTENT_MAX} characters, as sent or last edited; "
        "empty once deleted."
    )
    client_id: str | None = strawberry.field(
        description="The sender's idempotency key, if it gave one."
    )
    edited_at: datetime | None = strawberry.field(description="When it was last edited.")
    deleted: bool = strawberry.field(
        description="A tombstone: id and time kept, content and reactions gone."
    )
    _room_id: strawberry.Private[int]
    _author_id: strawberry.Private[int]
    _mentions: strawberry.Private[tuple[int, ...]]
    # Set when the page's authors were loaded in one batch (``roomMessages``).
    _author: strawberry.Private[User | None] = None

    @strawberry.field(description="Members mentioned (@displayName or <@id>) who can see the room.")
    async def mentions(self, info: Info) -> list[User]:
        rows = await loaders.users_by_id(info.context).load_many(list(self._mentions))
        return [User.from_row(r) for r in rows if r is not None]

    @strawberry.field
    async def room(self, info: Info) -> Room:
        room = await room_by_id(info, self._room_id)
        if room is None:
            raise NotFound(rooms.ROOM_NOT_FOUND)
        return room

    @strawberry.field(metadata=prefetched("_author"))
    async def author(self, info: Info) -> User:
        if self._author is not None:
            return self._author
        return await known_user(info, self._author_id)

    # Unannotated: they follow the resolved fields above in the schema too.
    reactions = strawberry.field(resolver=_reactions, description=_REACTIONS)
    attachments = strawberry.field(resolver=_attachments, description=_ATTACHMENTS)
    reply_to = _reply_field("room")

    @classmethod
    def from_row(cls, row: MessageRow | RoomMessageRow) -> Message:
        # The fields one by one (a page builds one per row): no dict of them.
        mentions = row.mentions
        return cls(
            id=strawberry.ID(str(row.id)),
            content=row.content,
            client_id=row.client_id,
            created_at=row.created_at,
            edited_at=row.edited_at,
            deleted=row.deleted,
            _reply_to_id=row.reply_to_id,
            _room_id=row.room_id,
            _author_id=row.author_id,
            # Most messages mention nobody: no generator to run for them.
            _mentions=_mentioned(mentions) if mentions else (),
        )

    @classmethod
    def from_event(cls, event: MessagePosted) -> Message:
        return cls(
            **_sent(event),
            _room_id=event.room_id,
            _author_id=event.author_id,
            _mentions=tuple(event.mentions),
        )


def _mentioned(mentions: str) -> tuple[int, ...]:
    return tuple(int(i) for i in mentions.split(",") if i)


class _PageMessage(Message):
    """A :class:`Message` of a history page: the same fields, in slots, set
    one by one (:func:`page_edges`) without the dataclass ``__init__`` and
    its keywords (a page builds 50)."""

    __slots__ = (
        "id",
        "content",
        "client_id",
        "created_at",
        "edited_at",
        "deleted",
        "_reply_to_id",
        "_room_id",
        "_author_id",
        "_mentions",
        "_author",
    )


class _PageEdge(Edge[Message]):
    """An :class:`Edge` of a history page, set without ``__init__`` too."""

    __slots__ = ("node", "_row_id")


_new = object.__new__


def page_edges(rows: Sequence[RoomMessageRow]) -> list[Edge[Message]]:
    """The edges of a page of records: what ``Edge(_row_id=row.id,
    node=Message.from_row(row))`` gives for each, built for a fraction of
    its cost; with the author of each record that carries one (one
    ``User`` per author), as a batch load would set it."""
    edges: list[Edge[Message]] = []
    append = edges.append
    authors: dict[int, User] = {}
    for row in rows:
        node = _new(_PageMessage)
        node.id = strawberry.ID(str(row.id))
        node.content = row.content
        node.client_id = row.client_id
        node.created_at = row.created_at
        node.edited_at = row.edited_at
        node.deleted = row.deleted
        node._reply_to_id = row.reply_to_id
        node._room_id = row.room_id
        node._author_id = row.author_id
        # Most messages mention nobody: no generator to run for them.
        mentions = row.mentions
        node._mentions = _mentioned(mentions) if mentions else ()
        author = row.author
        if author is None:
            node._author = None
        else:
            user = authors.get(author.id)
            if user is None:
                user = authors[author.id] = User.from_row(author)
            node._author = user
        edge = _new(_PageEdge)
        edge.node = node
        edge._row_id = row.id
        append(edge)
    return edges


@strawberry.type
class DirectMessage(Sent):
    DM = True
    content: str = strawberry.field(description="As sent or last edited; empty once deleted.")
    _from_id: strawberry.Private[int]
    _to_id: strawberry.Private[int]

    @strawberry.field
    async def from_user(self, info: Info) -> User:
        return await known_user(info, self._from_id)

    @strawberry.field
    async def to_user(self, info: Info) -> User:
        return await known_user(info, self._to_id)

    reactions = strawberry.field(resolver=_reactions, description=_REACTIONS)
    attachments = strawberry.field(resolver=_attachments, description=_ATTACHMENTS)
    reply_to = _reply_field("conversation")

    @classmethod
    def from_row(cls, row: DirectMessageRow) -> DirectMessage:
        return cls(**_sent(row), _from_id=row.sender_id, _to_id=row.recipient_id)

    @classmethod
    def from_event(cls, event: DirectMessageSent) -> DirectMessage:
        return cls(**_sent(event), _from_id=event.sender_id, _to_id=event.recipient_id)


def room_message(info: Info, row: MessageRow) -> Message:
    """A room message a mutation returns: its room came with it, so the
    ``room`` field costs no query."""
    prime_rooms(info, [row.room])
    return Message.from_row(row)
