"""What the database says about a channel: its events after an id, its head.

A channel is ``room:{id}`` (messages of a room, by message id) or
``user:{id}`` (the DMs to or from a user, by DM id). Ids of a channel are
taken in commit order (a row lock per room, per DM party: see
``resolvers.chat``), so what a read returns is always a prefix of the
channel: nothing committed later can get a smaller id.

The resolvers that store a row also read, in the same transaction, the
channel's previous id (:func:`prev_message_id`, :func:`prev_dm_id`), which
travels with the event so that a process can tell a gap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Max

from models import DirectMessage, Message, Room
from resolvers.events import DirectMessageSent, Event, MessagePosted

Reader = Callable[[int, int, int], Awaitable[list[Event]]]
HeadReader = Callable[[int], Awaitable[int]]


async def _max_id(query: Any) -> int:
    rows = await query.annotate(top=Max("id")).values_list("top", flat=True)
    top = rows[0] if rows else None
    return int(top) if top is not None else 0


def _mine(user_id: int) -> Q:
    return Q(sender_id=user_id) | Q(recipient_id=user_id)


async def _room_after(room_id: int, after: int, limit: int) -> list[Event]:
    room = await Room.get_or_none(id=room_id)
    if room is None:
        return []
    rows = await Message.filter(room_id=room_id, id__gt=after).order_by("id").limit(limit)
    for row in rows:
        row.room = room
    return [MessagePosted.from_row(row) for row in rows]


async def _room_head(room_id: int) -> int:
    return await _max_id(Message.filter(room_id=room_id))


async def _user_after(user_id: int, after: int, limit: int) -> list[Event]:
    rows = await DirectMessage.filter(_mine(user_id), id__gt=after).order_by("id").limit(limit)
    return [DirectMessageSent.from_row(row) for row in rows]


async def _user_head(user_id: int) -> int:
    return await _max_id(DirectMessage.filter(_mine(user_id)))


# channel prefix -> (events after an id, head id)
SOURCES: dict[str, tuple[Reader, HeadReader]] = {
    "room": (_room_after, _room_head),
    "user": (_user_after, _user_head),
}


def _split(channel: str) -> tuple[tuple[Reader, HeadReader], int]:
    prefix, _, key = channel.partition(":")
    source = SOURCES.get(prefix)
    if source is None or not key.isdigit():
        raise ValueError(f"not a live channel: {channel!r}")
    return source, int(key)


def check_channel(channel: str) -> None:
    _split(channel)


async def events_after(channel: str, after: int, limit: int) -> list[Event]:
    """Stored events of ``channel`` with an id above ``after``, oldest first."""
    (read, _), key = _split(channel)
    return await read(key, after, limit)


async def head(channel: str) -> int:
    """The channel's last stored id (0 when empty)."""
    (_, top), key = _split(channel)
    return await top(key)


# --- previous ids, read by the writer inside its transaction -----------------------


async def prev_message_id(room_id: int, below: int, conn: Any) -> int:
    query = Message.filter(room_id=room_id, id__lt=below).using_db(conn)
    return await _max_id(query)


async def prev_dm_id(user_id: int, below: int, conn: Any) -> int:
    query = DirectMessage.filter(_mine(user_id), id__lt=below).using_db(conn)
    return await _max_id(query)
