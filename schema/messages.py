"""Messages on GraphQL: the history of a room or a conversation, sending,
and the live feeds of new messages (rules in ``resolvers.messages`` and
``resolvers.direct_messages``; the types in ``schema.message_types``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry
from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode

from resolvers import direct_messages, limits, messages, users
from resolvers.events import DirectMessageSent, Event, MessagePosted
from schema.context import Info
from schema.feeds import feed
from schema.limits import DEFAULT_PAGE
from schema.message_types import DirectMessage, Message, page_edges, room_message
from schema.pagination import Connection, PageInfo, window
from schema.rooms import prime_rooms
from schema.users import User

_HISTORY = f"the last {limits.HISTORY_DEFAULT} by default, at most {limits.HISTORY_MAX}"


def _selected_names(info: Info) -> frozenset[str]:
    """The names of the fields selected anywhere below this one, fragments
    followed: a walk of graphql-core's nodes (Strawberry's
    ``info.selected_fields`` converts the whole selection on each call),
    once per selection of a cached document (its nodes are the same objects
    from request to request; nodes of one selection belong to one document,
    whose fragments never change)."""
    raw = info._raw_info
    nodes = tuple(raw.field_nodes)
    key = tuple(map(id, nodes))
    cached = _SELECTED.get(key)
    if cached is not None:
        return cached[1]
    names = _walk(nodes, raw.fragments)
    if len(_SELECTED) >= SELECTED_MAX:
        _SELECTED.clear()
    # The nodes are kept with their names, so that their ids are not reused.
    _SELECTED[key] = (nodes, names)
    return names


SELECTED_MAX = 256
_SELECTED: dict[tuple[int, ...], tuple[tuple[FieldNode, ...], frozenset[str]]] = {}


def _walk(
    nodes: tuple[FieldNode, ...], fragments: dict[str, FragmentDefinitionNode]
) -> frozenset[str]:
    names: set[str] = set()
    spread: set[str] = set()
    stack = [node.selection_set for node in nodes]
    while stack:
        selection_set = stack.pop()
        for selection in selection_set.selections if selection_set is not None else ():
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None and selection.name.value not in spread:
                    spread.add(selection.name.value)
                    stack.append(fragment.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
    return frozenset(names)


async def _prefetch_authors(messages: list[Message]) -> None:
    """A page's authors not read with it in one query, so that ``author``
    resolves without an await each (straight from the batch read: a
    DataLoader would add a future per author and a task to this page's one
    query)."""
    messages = [m for m in messages if m._author is None]
    if not messages:
        return
    rows = await users.get_users(sorted({m._author_id for m in messages}))
    found = {row.id: User.from_row(row) for row in rows if row is not None}
    for message in messages:
        message._author = found.get(message._author_id)


@strawberry.type
class MessageQueries:
    @strawberry.field(
        description=f"A room's history, oldest first within a page; {_HISTORY}. "
        "Private rooms: members only.",
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
    ) -> Connection[Message]:
        pick = window(first, after, last, before)
        selected = _selected_names(info)
        # Authors shown: read with the page itself where its read can join them.
        read = (
            messages.room_messages_with_authors if "author" in selected else messages.room_messages
        )
        found, page = await read(actor=info.context.user, room=room, **pick)
        connection = Connection(edges=page_edges(page.items), page_info=PageInfo.of(page))
        if "room" in selected:
            prime_rooms(info, [found])
        if "author" in selected:
            await _prefetch_authors([edge.node for edge in connection.edges])
        return connection

    @strawberry.field(
        description="The conversation between the caller and withUser, oldest first within "
        f"a page; {_HISTORY}.",
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
    ) -> Connection[DirectMessage]:
        pick = window(first, after, last, before)
        page = await direct_messages.direct_messages(
            actor=info.context.user, with_user=with_user, **pick
        )
        return Connection.of(page, DirectMessage.from_row)


@strawberry.type
class MessageMutations:
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
        row = await messages.send_message(
            actor=info.context.user,
            room=room,
            content=content,
            client_id=client_id,
            reply_to=reply_to,
            attachments=attachments,
        )
        return room_message(info, row)

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
        row = await direct_messages.send_direct_message(
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
class MessageSubscriptions:
    @strawberry.subscription(
        description="New messages of a room (same access rule as Query.roomMessages). With "
        "`after` (a message id, or a cursor from Query.roomMessages), first every stored "
        "message after it, then live ones: in id order, no gap and no duplicate, whichever "
        "server process took each send."
    )
    async def room_messages(
        self, info: Info, room: str, after: strawberry.ID | None = None
    ) -> AsyncIterator[Message]:
        return await feed(info, _message_of, after, room)

    @strawberry.subscription(
        description="Every new DM to or from the caller; with `after`, the stored ones "
        "after it first, as for roomMessages."
    )
    async def direct_messages(
        self, info: Info, after: strawberry.ID | None = None
    ) -> AsyncIterator[DirectMessage]:
        return await feed(info, _dm_of, after)
