"""One sync call (issue 15): everything that changed for a user since a token.

``sync(actor=, since=)`` answers, after the position ``since`` (None: from
the start) holds (:mod:`resolvers.sync_token`):

- per room the user belongs to, its new messages, newest last, at most
  :data:`limits.SYNC_ROOM_MESSAGES`: with more, ``limited`` is true and ``before`` is
  the history cursor to page back from (a room's history, ``before`` it,
  down to the previous position: nothing in between is lost, and history
  shows each message as it is now); and its changes (edits, deletions,
  reactions) in order, at most :data:`limits.SYNC_CHANGES` (``changes_limited``: the
  next sync goes on from there). A room joined since comes with
  ``joined`` true and its newest messages (older ones are history);
- the rooms the user left (:func:`resolvers.rooms.leave_room`), or that
  are gone with their memberships; a leave and a rejoin between two calls
  show neither (the room goes on from the position held);
- the user's DMs and DM changes after the position, oldest first, at most
  :data:`limits.SYNC_DMS` and :data:`limits.SYNC_CHANGES` (``dms_limited``, ``dm_changes_limited``:
  call again at once to get the rest);
- the user's read markers that moved, as they are now;
- the user's mentions (:mod:`resolvers.mentions`), in rooms joined or not,
  as the live ``mentions`` feed has them: they are logged with the DM
  changes, in the same order and under the same cap, so they share the DM
  change position (no new part in the token);
- ``next``, the token to pass as ``since`` next time.

A client that passes each ``next`` back (and pages back where ``limited``)
sees every message and every change exactly once, whichever process
stored it and whatever happened to the broker: sync reads only the
database, and each position advances only over a committed prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models import DirectMessage, Membership, Message, MessageChange, Room, User
from resolvers import limits, read_markers, sync_token
from resolvers.change_events import MENTIONED, ChangeEvent, MessageMentioned, from_change
from resolvers.sync_token import Position
from resolvers.users import require_user

R = TypeVar("R", bound=Model)


@dataclass
class RoomSync:
    room: Room
    joined: bool
    messages: list[Message]
    limited: bool
    before: int | None  # page back from here with the room's history
    changes: list[ChangeEvent]
    changes_limited: bool


@dataclass
class SyncResult:
    next: str
    rooms: list[RoomSync] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    dms: list[DirectMessage] = field(default_factory=list)
    dms_limited: bool = False
    dm_changes: list[ChangeEvent] = field(default_factory=list)
    dm_changes_limited: bool = False
    markers: list[read_markers.Marker] = field(default_factory=list)
    mentions: list[MessageMentioned] = field(default_factory=list)


async def sync(*, actor: User | None, since: object = None) -> SyncResult:
    user = require_user(actor)
    old = Position(user.id) if since is None else sync_token.decode(since, user.id)
    new = Position(user.id)
    result = SyncResult(next="")
    # Markers first, DMs next: each read is a committed prefix of its stream.
    result.markers = await read_markers.markers_after(user.id, old.markers)
    new.markers = max([old.markers, *(m.seq for m in result.markers)])
    await _dms(user.id, old, new, result)
    await _rooms(user.id, old, new, result)
    result.next = sync_token.encode(new)
    return result


# --- rooms -----------------------------------------------------------------------------


async def _heads(room_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Each room's last message id and last change seq: one query, two
    index probes per room (read *before* the messages, see _room)."""
    if not room_ids:
        return {}
    conn = Message._meta.db
    pg = conn.capabilities.dialect == "postgres"
    marks = ", ".join(f"${i}" if pg else "?" for i in range(1, len(room_ids) + 1))
    sql = (
        "SELECT r.id AS id, "
        "(SELECT MAX(m.id) FROM messages m WHERE m.room_id = r.id) AS m, "
        "(SELECT MAX(c.seq) FROM message_changes c WHERE c.room_id = r.id) AS c "
        f"FROM rooms r WHERE r.id IN ({marks})"
    )
    _, rows = await conn.execute_query(sql, room_ids)
    return {int(r["id"]): (int(r["m"] or 0), int(r["c"] or 0)) for r in rows}


async def _rooms(user_id: int, old: Position, new: Position, result: SyncResult) -> None:
    mine = await Membership.filter(user_id=user_id).values_list("room_id", flat=True)
    room_ids = sorted({int(str(r)) for r in mine})
    result.left = sorted(set(old.rooms) - set(room_ids))
    heads = await _heads(room_ids)
    rooms = {r.id: r for r in await Room.filter(id__in=room_ids)}
    for room_id in room_ids:
        room = rooms.get(room_id)
        if room is None or room_id not in heads:
            continue  # gone meanwhile: it shows as left next time
        entry = await _room(room, old.rooms.get(room_id), heads[room_id])
        new.rooms[room_id] = entry[0]
        if entry[1] is not None:
            result.rooms.append(entry[1])


async def _room(
    room: Room, since: tuple[int, int] | None, head: tuple[int, int]
) -> tuple[tuple[int, int], RoomSync | None]:
    joined = since is None
    # A room new to this token: its newest messages (as they are now) and
    # no older changes; changes from the head read *before* the messages on.
    m, c = (0, head[1]) if since is None else since
    messages: list[Message] = []
    limited = False
    if head[0] > m:
        newest = Message.filter(room_id=room.id, id__gt=m).order_by("-id")
        rows, limited = await _capped(newest, limits.SYNC_ROOM_MESSAGES)
        messages = sorted(rows, key=lambda r: r.id)
        for row in messages:
            row.room = room
        m = max(m, messages[-1].id) if messages else m
    changes: list[ChangeEvent] = []
    changes_limited = False
    if head[1] > c:
        after = MessageChange.filter(room_id=room.id, seq__gt=c).order_by("seq")
        logged, changes_limited = await _capped(after, limits.SYNC_CHANGES)
        changes = await _room_changes(room, logged)
        c = logged[-1].seq if logged else c
    if not (joined or messages or changes):
        return (m, c), None
    before = messages[0].id if limited and messages else None
    return (m, c), RoomSync(room, joined, messages, limited, before, changes, changes_limited)


async def _capped(rows: QuerySet[R], cap: int) -> tuple[list[R], bool]:
    """At most ``cap`` of an ordered query's rows, and whether more were left."""
    found = list(await rows.limit(cap + 1))
    return found[:cap], len(found) > cap


async def _room_changes(room: Room, logged: list[MessageChange]) -> list[ChangeEvent]:
    ids = {c.message_id for c in logged}
    rows = {m.id: m for m in await Message.filter(id__in=ids)} if ids else {}
    for row in rows.values():
        row.room = room
    return [from_change(c, rows.get(c.message_id)) for c in logged]


# --- direct messages -------------------------------------------------------------------


async def _dms(user_id: int, old: Position, new: Position, result: SyncResult) -> None:
    dm_m, dm_c = old.dm
    mine = Q(sender_id=user_id) | Q(recipient_id=user_id)
    dms = DirectMessage.filter(mine, id__gt=dm_m).order_by("id")
    result.dms, result.dms_limited = await _capped(dms, limits.SYNC_DMS)
    if result.dms:
        dm_m = result.dms[-1].id
    parties = Q(user_low=user_id) | Q(user_high=user_id)
    changed = MessageChange.filter(parties, seq__gt=dm_c).order_by("seq")
    logged, result.dm_changes_limited = await _capped(changed, limits.SYNC_CHANGES)
    changes = [c for c in logged if c.kind != MENTIONED]
    ids = {c.message_id for c in changes}
    known = {d.id: d for d in await DirectMessage.filter(id__in=ids)} if ids else {}
    result.dm_changes = [from_change(c, known.get(c.message_id)) for c in changes]
    result.mentions = await _mentions(user_id, [c for c in logged if c.kind == MENTIONED])
    if logged:
        dm_c = logged[-1].seq
    new.dm = (dm_m, dm_c)


async def _mentions(user_id: int, logged: list[MessageChange]) -> list[MessageMentioned]:
    """Each mention as the message is now (empty once deleted)."""
    ids = {c.message_id for c in logged}
    rows = {m.id: m for m in await Message.filter(id__in=ids).select_related("room")} if ids else {}
    return [MessageMentioned.from_row(c.seq, user_id, rows.get(c.message_id)) for c in logged]
