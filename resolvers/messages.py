"""Room messages: send one, read a room's history.

Who may post and read is the room's visibility (:func:`resolvers.rooms.resolve_room`):
anyone signed in for a public room, members for a private one. Content,
``client_id`` replay and the message budget are :mod:`resolvers.sending`.

A send is stored first, then published as a typed event
(:class:`resolvers.events.MessagePosted`) through :mod:`resolvers.live`,
with the room channel's previous id read in the same transaction: a process
that sees a gap fills it from the database, so every door's feed is gapless
and in id order across processes. Within one process the insert and its
publish also run under the room's lock (:mod:`resolvers.locks`), which
keeps gap fills rare.
"""

from __future__ import annotations

from functools import partial

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

from core.transactions import transaction
from models import Message, Room, User, prepared_writes
from models.records import MessageRows, RoomMessageRow, author_columns
from resolvers import attachments as attached
from resolvers import events, live, mentions, posted, replies
from resolvers.events import room_channel
from resolvers.live import sources
from resolvers.locks import locked
from resolvers.pagination import Page, Slice, history_page, slice_of
from resolvers.rooms import resolve_room
from resolvers.sending import check_client_id, check_content, check_rate, stored_send
from resolvers.users import require_user


async def send_message(
    *,
    actor: User | None,
    room: str | int | Room,
    content: object,
    client_id: object = None,
    reply_to: object = None,
    attachments: object = None,
) -> Message:
    """Store a message in a room, then publish it on the room's channel.

    With a ``client_id`` already used by the actor, the stored message is
    returned and nothing is stored or published again. ``reply_to`` names a
    message of the same room (resolvers.replies); ``attachments``, files of
    the sender's (resolvers.attachments).
    """
    user = require_user(actor)
    text = check_content(content)
    key = check_client_id(client_id)
    found = await resolve_room(actor=user, room=room)

    async def retried() -> Message | None:
        return await stored_send(
            key, partial(_stored_message, user), lambda m: m.room_id == found.id, text
        )

    if (stored := await retried()) is not None:
        await mentions.notify_missing(stored)  # the first try may have been killed before
        return stored
    original = await replies.check_room_reply(reply_to, found.id)
    mentioned = await mentions.parse(text, found, user.id)
    files = await attached.check(attachments, user)
    await check_rate(user)
    async with locked([room_channel(found.id)]):
        try:
            async with transaction() as conn:
                # Row lock: ids of a room are taken in commit order on every
                # process, so a client resuming `after` its last id misses nothing.
                await prepared_writes.lock_room(conn, found.id)
                message = await Message.create(
                    room=found,
                    author=user,
                    content=text,
                    client_id=key,
                    reply_to_id=original.id if original else None,
                    mentions=mentions.joined(mentioned),
                    using_db=conn,
                )
                await attached.link(files, conn=conn, message_id=message.id, dm=False)
                # The room's previous id travels with the event: a process
                # that has not delivered it yet knows it has a gap to fill.
                prev = await sources.prev_message_id(found.id, message.id, conn)
        except IntegrityError:
            if (stored := await retried()) is None:
                raise
            return stored
        # Committed: publish (never raises; a lost publish is filled from the database).
        reply = replies.preview_of(original) if original else None
        event = events.MessagePosted.from_row(message, reply, attached.files_of(files))
        await live.publish(event, {room_channel(found.id): prev})
    await mentions.notify(message, found, mentioned)
    return message


async def _stored_message(user: User, client_id: str) -> Message | None:
    return await Message.get_or_none(author_id=user.id, client_id=client_id).select_related("room")


def _room_page(descending: bool, *, room_id: int, **rows: int) -> QuerySet[Message]:
    page = slice_of(Message.filter(room_id=room_id), Slice(descending=descending, **rows))
    return page.annotate(**posted.has_any(Message))


def _room_page_with_authors(descending: bool, *, room_id: int, **rows: int) -> QuerySet[Message]:
    page = slice_of(Message.filter(room_id=room_id), Slice(descending=descending, **rows))
    return page.annotate(**author_columns())


# A room's pages are read through one prepared statement per page shape:
# Tortoise renders their SQL once, not on every read. Pages are only read
# (rendered by the doors), so they come as read-only records.
_ROOM_PAGE = MessageRows(_room_page)
# The same pages with each message's author joined (records' ``author``),
# for a door that shows authors and has its own way to load reactions and
# attachments (without the has_any annotations).
_ROOM_PAGE_WITH_AUTHORS = MessageRows(_room_page_with_authors)


async def room_messages(
    *,
    actor: User | None,
    room: str | int | Room,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
) -> tuple[Room, Page[RoomMessageRow]]:
    """A page of a room's history (:func:`resolvers.pagination.history_page`),
    as records carrying the room."""
    return await _history(_ROOM_PAGE, actor, room, first, after, last, before)


async def room_messages_with_authors(
    *,
    actor: User | None,
    room: str | int | Room,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
) -> tuple[Room, Page[RoomMessageRow]]:
    """:func:`room_messages`, each record's ``author`` read in the same
    query where the read could join it (None where it could not)."""
    return await _history(_ROOM_PAGE_WITH_AUTHORS, actor, room, first, after, last, before)


async def _history(
    reader: MessageRows,
    actor: User | None,
    room: str | int | Room,
    first: int | None,
    after: int | None,
    last: int | None,
    before: int | None,
) -> tuple[Room, Page[RoomMessageRow]]:
    found = await resolve_room(actor=actor, room=room)

    async def read(rows: Slice) -> list[RoomMessageRow]:
        return await reader.records(
            rows.descending,
            found,
            room_id=found.id,
            limit=rows.limit,
            after=rows.after,
            before=rows.before,
        )

    page = await history_page(
        Message.filter(room_id=found.id),
        first=first,
        after=after,
        last=last,
        before=before,
        read_slice=read,
    )
    return found, page
