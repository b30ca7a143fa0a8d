"""Read markers and unread counts (issue 15), once for every door.

- A read marker is, per user and per room or DM conversation, the id of
  the last message read. It only moves forward: marking an id at or below
  the current marker changes nothing and answers the current marker.
- The id must be a message of that conversation (NOT_FOUND otherwise); a
  room follows the reading rule of its history (``resolvers.rooms``: a
  private room is NOT_FOUND to a non-member), a DM conversation needs an
  active other party.
- A move is stored, then published as :class:`ReadMarkerMoved` on the
  user's own channel, so their other devices follow it live. Its ``seq``
  comes from the DM id sequence under the user's row lock (as a mention's,
  ``resolvers.mentions``): markers, DMs and mentions of a user share one
  commit-ordered id space, which sync relies on (``resolvers.sync``).
- Unread: messages after the marker that are not deleted and not the
  user's own. Mentions: those of them that mention the user. In a DM every
  unread message counts as a mention (it is addressed to the user).
  :func:`unread_counts` answers every room of the user (zero or not) and
  every DM conversation with something unread, in two SQL queries however
  many rooms: per room one index range scan after the marker, so the cost
  follows the rooms and their unread messages, not their history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from core.errors import NotFound
from core.transactions import transaction
from models import DirectMessage, Message, ReadMarker, Room, User
from resolvers import live, locks, rooms, users, validation
from resolvers.events import user_channel
from resolvers.live import sources
from resolvers.marker_events import ReadMarkerMoved
from resolvers.sequences import next_seq
from resolvers.users import require_user

MESSAGE_NOT_FOUND = "Message not found."


@dataclass(frozen=True, slots=True)
class Marker:
    """Where a user has read up to in one conversation (``seq``: its last move)."""

    room_id: int
    room_name: str
    with_user: int
    last_read_id: int
    seq: int

    @classmethod
    def of_event(cls, event: ReadMarkerMoved) -> Marker:
        return cls(event.room_id, event.room_name, event.with_user, event.last_read_id, event.id)

    def as_dict(self) -> dict[str, Any]:
        """The body REST and WS share (snake_case, as the message bodies)."""
        where = _where(self.room_id, self.room_name, self.with_user)
        return {**where, "last_read_id": self.last_read_id, "event_id": self.seq}


class Unread(NamedTuple):
    """Unread and mention counts of one room (``room_id``) or DM (``with_user``).

    A named tuple: a home screen lists every room of the user's, and building
    500 frozen dataclasses cost three times as much (0.52 vs 0.15 ms)."""

    room_id: int
    room_name: str
    with_user: int
    last_read_id: int
    unread: int
    mentions: int

    def as_dict(self) -> dict[str, Any]:
        if self.room_id:
            return {
                "room": self.room_name,
                "room_id": self.room_id,
                "last_read_id": self.last_read_id,
                "unread": self.unread,
                "mentions": self.mentions,
            }
        return {
            "with": self.with_user,
            "last_read_id": self.last_read_id,
            "unread": self.unread,
            "mentions": self.mentions,
        }


def _where(room_id: int, room_name: str, with_user: int) -> dict[str, Any]:
    return {"room": room_name, "room_id": room_id} if room_id else {"with": with_user}


async def mark_room_read(*, actor: User | None, room: object, message_id: object) -> Marker:
    """Move the actor's marker of ``room`` forward to ``message_id``."""
    user = require_user(actor)
    mid = validation.parse_id(message_id, "messageId")
    found = await rooms.resolve_room(actor=user, room=room)  # type: ignore[arg-type]
    if not await Message.filter(id=mid, room_id=found.id).exists():
        raise NotFound(MESSAGE_NOT_FOUND)
    return await _move(user.id, mid, room=found)


async def mark_dm_read(*, actor: User | None, with_user: object, message_id: object) -> Marker:
    """Move the actor's marker of the DM conversation with ``with_user`` forward."""
    user = require_user(actor)
    mid = validation.parse_id(message_id, "messageId")
    other_id = validation.parse_id(with_user, "withUser")
    if not await User.filter(id=other_id, is_active=True).exists():
        raise NotFound(users.USER_NOT_FOUND)
    low, high = sorted((user.id, other_id))
    if not await DirectMessage.filter(id=mid, user_low=low, user_high=high).exists():
        raise NotFound(MESSAGE_NOT_FOUND)
    return await _move(user.id, mid, other_id=other_id)


async def _move(
    user_id: int, message_id: int, *, room: Room | None = None, other_id: int = 0
) -> Marker:
    where: dict[str, Any] = {"room_id": room.id} if room else {"other_id": other_id}
    room_id, room_name = (room.id, room.name) if room else (0, "")
    channel = user_channel(user_id)
    async with locks.locked([channel]):
        async with transaction() as conn:
            await User.filter(id=user_id).select_for_update().only("id").using_db(conn)
            row = await ReadMarker.filter(user_id=user_id, **where).using_db(conn).first()
            if row is not None and row.last_read_id >= message_id:
                return Marker(room_id, room_name, other_id, row.last_read_id, row.seq)
            seq = await next_seq(conn, "direct_messages")
            if row is None:
                await ReadMarker.create(
                    user_id=user_id, last_read_id=message_id, seq=seq, using_db=conn, **where
                )
            else:
                await (
                    ReadMarker.filter(id=row.id)
                    .using_db(conn)
                    .update(last_read_id=message_id, seq=seq)
                )
            prev = await sources.prev_dm_id(user_id, seq, conn)
        event = ReadMarkerMoved(seq, user_id, room_id, room_name, other_id, message_id)
        await live.publish(event, {channel: prev})
    return Marker.of_event(event)


def _marks(conn: Any, count: int) -> list[str]:
    if conn.capabilities.dialect == "postgres":
        return [f"${i}" for i in range(1, count + 1)]
    return ["?"] * count


# Per room of the user with something after the marker (the room's newest
# message id, ``rooms.last_message_id``, kept by a trigger: migration 7),
# one range scan after the marker of the covering index
# ``messages_room_unread`` (migration 6), counting unread and mentions
# together; a room read to its end costs no probe of that index. SQLite: a
# grouped join, whose join term is NULL (no probe) for a room read to its
# end; CROSS JOIN pins the order (memberships first, in room id
# order: no sort). PostgreSQL: a LATERAL aggregate per room, gated the same
# way (as a plain join, its planner hashes every message).
_COUNTS = (
    "COUNT(m.id) AS unread, "
    # Most messages mention no one: the empty test skips the LIKE for them.
    "COUNT(CASE WHEN m.mentions <> '' AND (',' || m.mentions || ',') LIKE {pattern} "
    "THEN 1 END) AS mentioned"
)
_NEWER = "r.last_message_id > COALESCE(rm.last_read_id, 0)"
_AFTER_MARKER = (
    "m.room_id = {room} AND m.id > COALESCE(rm.last_read_id, 0) "
    "AND m.author_id <> {author} AND NOT m.deleted"
)
_MARKER = "LEFT JOIN read_markers rm ON rm.user_id = ms.user_id AND rm.room_id = ms.room_id "
SQLITE_ROOMS = (
    "SELECT ms.room_id AS room_id, r.name AS name, COALESCE(rm.last_read_id, 0) AS last_read, "
    f"{_COUNTS.format(pattern='?2')} "
    f"FROM memberships ms CROSS JOIN rooms r ON r.id = ms.room_id {_MARKER}"
    "LEFT JOIN messages m ON "
    + _AFTER_MARKER.format(room=f"CASE WHEN {_NEWER} THEN ms.room_id END", author="?1")
    + " "
    "WHERE ms.user_id = ?1 GROUP BY ms.room_id ORDER BY ms.room_id"
)
POSTGRES_ROOMS = (
    "SELECT ms.room_id AS room_id, r.name AS name, COALESCE(rm.last_read_id, 0) AS last_read, "
    "c.unread AS unread, c.mentioned AS mentioned "
    f"FROM memberships ms JOIN rooms r ON r.id = ms.room_id {_MARKER}"
    f"CROSS JOIN LATERAL (SELECT {_COUNTS.format(pattern='$2')} FROM messages m "
    f"WHERE {_NEWER} AND {_AFTER_MARKER.format(room='ms.room_id', author='$1')}) c "
    "WHERE ms.user_id = $1 ORDER BY ms.room_id"
)


async def _room_rows(conn: Any, user_id: int) -> list[Any]:
    values = [user_id, f"%,{user_id},%"]
    if conn.capabilities.dialect != "postgres":
        _, rows = await conn.execute_query(SQLITE_ROOMS, values)
        return list(rows)
    # PostgreSQL cannot know that markers sit near the end of their rooms: it
    # estimates each room's scan at a third of the room, so the statement's
    # cost grows with the rooms' history (5.6M for 500 rooms of 10k, 111k for
    # 5) and passes ``jit_above_cost``: JIT compilation then takes ~0.3-1 s for
    # a statement that runs in a few ms (EXPLAIN ANALYZE in the README, "Unread
    # counts"). Off for this statement only.
    async with transaction() as tx:
        await tx.execute_script("SET LOCAL jit = off")
        _, rows = await tx.execute_query(POSTGRES_ROOMS, values)
    return list(rows)


async def unread_counts(*, actor: User | None) -> list[Unread]:
    """Every room of the actor's (by room id), then every DM conversation with
    something unread (by user id): two grouped queries, whatever the count."""
    user = require_user(actor)
    conn = Message._meta.db
    # Columns in the statements' order: room_id, name, last_read, unread,
    # mentioned; both drivers give ints and text (no conversion per row).
    result = [Unread(r[0], r[1], 0, r[2], r[3], r[4]) for r in await _room_rows(conn, user.id)]
    (me,) = _marks(conn, 1)
    dms_sql = (
        "SELECT d.sender_id AS other, COALESCE(MAX(rm.last_read_id), 0) AS last_read, "
        "COUNT(d.id) AS unread FROM direct_messages d "
        "LEFT JOIN read_markers rm ON rm.user_id = d.recipient_id AND rm.other_id = d.sender_id "
        f"WHERE d.recipient_id = {me} AND NOT d.deleted "
        "AND d.id > COALESCE(rm.last_read_id, 0) GROUP BY d.sender_id ORDER BY d.sender_id"
    )
    _, dm_rows = await conn.execute_query(dms_sql, [user.id])
    for r in dm_rows:
        count = int(r["unread"])
        result.append(Unread(0, "", int(r["other"]), int(r["last_read"]), count, count))
    return result


async def markers_after(user_id: int, after: int) -> list[Marker]:
    """The user's markers that moved after ``after`` (their ``seq``), in order."""
    rows = await ReadMarker.filter(user_id=user_id, seq__gt=after).order_by("seq")
    names = await _room_names({r.room_id for r in rows if r.room_id})
    return [
        Marker(
            r.room_id or 0,
            names.get(r.room_id or 0, ""),
            r.other_id or 0,
            r.last_read_id,
            r.seq,
        )
        for r in rows
    ]


async def _room_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {r.id: r.name for r in await Room.filter(id__in=ids).only("id", "name")}
