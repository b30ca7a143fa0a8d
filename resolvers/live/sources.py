"""What the database says about a channel: its events after an id, its head.

A channel is ``room:{id}`` (messages of a room, by message id),
``user:{id}`` (the DMs to or from a user, by DM id) or ``catalogue:0``
(product signals only, nothing stored: ``resolvers.catalogue_events``).
Room and user channels also carry the changes of those messages (edits,
deletions, reactions: the change log, whose ``seq`` shares the messages'
id space, ``resolvers.message_changes``); a user's channel also carries
their read markers (``resolvers.read_markers``). Ids of a channel are
taken in commit order (a row lock per room, per DM party: see
``resolvers.messages``, ``resolvers.direct_messages``), so what a read
returns is always a prefix of the
channel: nothing committed later can get a smaller id.

The resolvers that store a row also read, in the same transaction, the
channel's previous id (:func:`prev_message_id`, :func:`prev_dm_id`), which
travels with the event so that a process can tell a gap (one statement
each, :mod:`models.prepared_writes`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Max

from models import (
    DirectMessage,
    Membership,
    Message,
    MessageChange,
    ReadMarker,
    Room,
    prepared_writes,
)
from resolvers import attachments, replies
from resolvers.change_events import MENTIONED, MessageMentioned, from_change
from resolvers.events import DirectMessageSent, Event, MessagePosted
from resolvers.marker_events import ReadMarkerMoved

Reader = Callable[[int, int, int], Awaitable[list[Event]]]
HeadReader = Callable[[int], Awaitable[int]]


async def _max_id(query: Any) -> int:
    rows = await query.annotate(top=Max("id")).values_list("top", flat=True)
    top = rows[0] if rows else None
    return int(top) if top is not None else 0


def _mine(user_id: int) -> Q:
    return Q(sender_id=user_id) | Q(recipient_id=user_id)


def _my_changes(user_id: int) -> Q:
    return Q(user_low=user_id) | Q(user_high=user_id)


async def _max_seq(query: Any) -> int:
    rows = await query.annotate(top=Max("seq")).values_list("top", flat=True)
    top = rows[0] if rows else None
    return int(top) if top is not None else 0


def _merge(posts: list[Event], changes: list[Event], limit: int) -> list[Event]:
    """Id-ordered prefixes of a channel, each cut at ``limit``: their
    first ``limit`` events together are a prefix of the channel too."""
    return sorted(posts + changes, key=lambda e: e.id)[:limit]


async def _markers_after(user_id: int, after: int, limit: int) -> list[Event]:
    """The user's read markers that moved after ``after`` (issue 15), as they are now."""
    rows = await ReadMarker.filter(user_id=user_id, seq__gt=after).order_by("seq").limit(limit)
    rooms = {r.room_id for r in rows if r.room_id}
    names = {r.id: r.name for r in await Room.filter(id__in=rooms)} if rooms else {}
    return [
        ReadMarkerMoved(
            r.seq,
            user_id,
            r.room_id or 0,
            names.get(r.room_id or 0, ""),
            r.other_id or 0,
            r.last_read_id,
        )
        for r in rows
    ]


async def _room_after(room_id: int, after: int, limit: int) -> list[Event]:
    room = await Room.get_or_none(id=room_id)
    if room is None:
        return []
    rows = await Message.filter(room_id=room_id, id__gt=after).order_by("id").limit(limit)
    changes = (
        await MessageChange.filter(room_id=room_id, seq__gt=after).order_by("seq").limit(limit)
    )
    known = {row.id: row for row in rows}
    missing = {c.message_id for c in changes} - set(known)
    if missing:
        known.update({m.id: m for m in await Message.filter(id__in=missing)})
    for row in known.values():
        row.room = room
    reps = await replies.of_rows(rows)
    files = await attachments.of_messages(r.id for r in rows)
    posts: list[Event] = [
        MessagePosted.from_row(row, reps.get(row.reply_to_id or 0), files[row.id]) for row in rows
    ]
    edits: list[Event] = [from_change(c, known.get(c.message_id)) for c in changes]
    return _merge(posts, edits, limit)


async def _room_head(room_id: int) -> int:
    posts = await _max_id(Message.filter(room_id=room_id))
    return max(posts, await _max_seq(MessageChange.filter(room_id=room_id)))


async def _user_after(user_id: int, after: int, limit: int) -> list[Event]:
    rows = await DirectMessage.filter(_mine(user_id), id__gt=after).order_by("id").limit(limit)
    changes = (
        await MessageChange.filter(_my_changes(user_id), seq__gt=after).order_by("seq").limit(limit)
    )
    known = {row.id: row for row in rows}
    missing = {c.message_id for c in changes if c.kind != MENTIONED} - set(known)
    if missing:
        known.update({d.id: d for d in await DirectMessage.filter(id__in=missing)})
    mentioned = await _mentioning({c.message_id for c in changes if c.kind == MENTIONED})
    reps = await replies.of_rows(rows)
    files = await attachments.of_messages((r.id for r in rows), dm=True)
    posts: list[Event] = [
        DirectMessageSent.from_row(row, reps.get(row.reply_to_id or 0), files[row.id])
        for row in rows
    ]
    edits: list[Event] = [
        MessageMentioned.from_row(c.seq, user_id, mentioned.get(c.message_id))
        if c.kind == MENTIONED
        else from_change(c, known.get(c.message_id))
        for c in changes
    ]
    return _merge(posts, edits + await _markers_after(user_id, after, limit), limit)


async def _mentioning(ids: set[int]) -> dict[int, Message]:
    if not ids:
        return {}
    return {m.id: m for m in await Message.filter(id__in=ids).select_related("room")}


async def _user_head(user_id: int) -> int:
    posts = await _max_id(DirectMessage.filter(_mine(user_id)))
    markers = await _max_seq(ReadMarker.filter(user_id=user_id))
    return max(posts, markers, await _max_seq(MessageChange.filter(_my_changes(user_id))))


async def _nothing_after(key: int, after: int, limit: int) -> list[Event]:
    return []


async def _no_head(key: int) -> int:
    return 0


# channel prefix -> (events after an id, head id)
SOURCES: dict[str, tuple[Reader, HeadReader]] = {
    "room": (_room_after, _room_head),
    "user": (_user_after, _user_head),
    # Signals only (resolvers.catalogue_events): nothing stored to replay.
    "catalogue": (_nothing_after, _no_head),
}


def _split(channel: str) -> tuple[tuple[Reader, HeadReader], int]:
    prefix, _, key = channel.partition(":")
    source = SOURCES.get(prefix)
    if source is None or not key.isdigit():
        raise ValueError(f"not a live channel: {channel!r}")
    return source, int(key)


def check_channel(channel: str) -> None:
    _split(channel)


def room_of(channel: str) -> int | None:
    """The room of a room's channel; None for another channel."""
    prefix, _, key = channel.partition(":")
    return int(key) if prefix == "room" and key.isdigit() else None


async def members_among(
    room_id: int, users: set[int], *, named: bool = True
) -> tuple[set[int], str]:
    """Which of ``users`` belong to the room now (one query), and, when
    ``named`` and some do not, the room's name ("" once it is gone)."""
    rows = await Membership.filter(room_id=room_id, user_id__in=users).values_list(
        "user_id", flat=True
    )
    still = {int(str(u)) for u in rows}
    name = ""
    if named and users - still:
        names = await Room.filter(id=room_id).values_list("name", flat=True)
        name = str(names[0]) if names else ""
    return still, name


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
    return await prepared_writes.room_prev_id(conn, room_id, below)


async def prev_dm_id(user_id: int, below: int, conn: Any) -> int:
    return await prepared_writes.dm_prev_id(conn, user_id, below)


async def prev_id(channel: str, below: int, conn: Any) -> int:
    """The id of ``channel``'s event before ``below`` (message or change)."""
    prefix, _, key = channel.partition(":")
    read = prev_message_id if prefix == "room" else prev_dm_id
    return await read(int(key), below, conn)
