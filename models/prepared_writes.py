"""Statements of the send path, written once per dialect instead of built per call.

Every message a room receives runs, inside its transaction, the room's row
lock and the read of the channel's previous id (``resolvers.live.sources``).
Built through Tortoise and pypika, those were more Python per message than
the insert itself, and the previous id was two round trips to the database
(the messages' head and the changes' head). Here each is one statement,
its SQL rendered once for the connection's dialect and then only bound:

- :func:`lock_room`: ``SELECT ... FOR UPDATE`` on PostgreSQL; nothing on
  SQLite, which has no row locks (its write transaction holds the whole
  database, and pypika drops ``FOR UPDATE`` there anyway);
- :func:`room_prev_id`, :func:`dm_prev_id`: the largest id below ``below``
  among a channel's messages, changes (and, for a user's channel, read
  markers), in one query. Same conditions as the Tortoise queries they
  replace, hence the same indexes.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from models.chat import DirectMessage, Message, MessageChange, Room
from models.read_markers import ReadMarker

_ROOM_PREV = (
    "SELECT MAX(top) AS top FROM ("
    f' SELECT MAX("id") AS top FROM "{Message._meta.db_table}"'
    ' WHERE "room_id" = ? AND "id" < ?'
    f' UNION ALL SELECT MAX("seq") FROM "{MessageChange._meta.db_table}"'
    ' WHERE "room_id" = ? AND "seq" < ?'
    ") AS heads"
)
_DM_PREV = (
    "SELECT MAX(top) AS top FROM ("
    f' SELECT MAX("id") AS top FROM "{DirectMessage._meta.db_table}"'
    ' WHERE ("sender_id" = ? OR "recipient_id" = ?) AND "id" < ?'
    f' UNION ALL SELECT MAX("seq") FROM "{MessageChange._meta.db_table}"'
    ' WHERE ("user_low" = ? OR "user_high" = ?) AND "seq" < ?'
    f' UNION ALL SELECT MAX("seq") FROM "{ReadMarker._meta.db_table}"'
    ' WHERE "user_id" = ? AND "seq" < ?'
    ") AS heads"
)
_LOCK_ROOM = f'SELECT "id" FROM "{Room._meta.db_table}" WHERE "id" = ? FOR UPDATE'


@cache
def _sql(template: str, postgres: bool) -> str:
    """``template`` with the dialect's placeholders (``?``, or ``$1``, ``$2``...)."""
    if not postgres:
        return template
    parts = template.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]


def _postgres(conn: Any) -> bool:
    return bool(conn.capabilities.dialect == "postgres")


async def _top(conn: Any, template: str, values: list[int]) -> int:
    _, rows = await conn.execute_query(_sql(template, _postgres(conn)), values)
    top = rows[0]["top"] if rows else None
    return int(top) if top is not None else 0


async def lock_room(conn: Any, room_id: int) -> None:
    """Hold the room's row until ``conn``'s transaction ends (PostgreSQL)."""
    if _postgres(conn):
        await conn.execute_query(_sql(_LOCK_ROOM, True), [room_id])


async def room_prev_id(conn: Any, room_id: int, below: int) -> int:
    """The room channel's last id (message or change) below ``below``; 0 if none."""
    return await _top(conn, _ROOM_PREV, [room_id, below, room_id, below])


async def dm_prev_id(conn: Any, user_id: int, below: int) -> int:
    """The user channel's last id (DM, change or read marker) below ``below``; 0 if none."""
    values = [user_id, user_id, below, user_id, user_id, below, user_id, below]
    return await _top(conn, _DM_PREV, values)
