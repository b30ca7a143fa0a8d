"""The ``since`` token of sync (``resolvers.sync``): opaque, validated.

It is a position vector, not one "max id seen": ids come from sequences,
and concurrent transactions on several processes can commit out of id
order *across* conversations, so one horizon could step over a row that
commits later with a lower id. Within one conversation they cannot: a
room's message ids and change seqs are taken under the room's row lock, a
user's DMs, DM changes and read markers under the user's row lock
(``resolvers.messages``, ``resolvers.direct_messages``,
``resolvers.message_changes``, ``resolvers.read_markers``),
so each is committed in id order, and "everything after my position in
this conversation" read now is always a prefix of what will ever be there.

The token holds, for the user it was made for:

- per room they belong to: the last message id and the last change seq
  delivered (``[room_id, message, change]``); a room missing from it is a
  room joined since, a room in it the user no longer belongs to, one left;
- for their DMs: the last DM id and the last DM change seq delivered;
- the last read-marker seq delivered.

On the wire: ``s1.`` + base64url(zlib(JSON)). Anything else, another
user's token, or numbers out of range are BAD_USER_INPUT on ``since``.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from core.errors import BadUserInput
from resolvers import limits
from resolvers.validation import MAX_INT32

PREFIX = "s1."
JSON_MAX_BYTES = 1_000_000
BAD_TOKEN = "since is not a sync token of yours (pass the `next` of your previous sync)."


@dataclass
class Position:
    """What a user's client has been given so far."""

    user_id: int
    rooms: dict[int, tuple[int, int]] = field(default_factory=dict)
    dm: tuple[int, int] = (0, 0)
    markers: int = 0


def encode(pos: Position) -> str:
    doc = {
        "u": pos.user_id,
        "r": [[room, m, c] for room, (m, c) in sorted(pos.rooms.items())],
        "d": list(pos.dm),
        "k": pos.markers,
    }
    raw = zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 9)
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad() -> BadUserInput:
    return BadUserInput(BAD_TOKEN, field="since")


def _id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT32:
        raise _bad()
    return value


def decode(token: object, user_id: int) -> Position:
    if not isinstance(token, str) or not token.startswith(PREFIX):
        raise _bad()
    if len(token) > limits.SYNC_TOKEN_MAX_CHARS:
        raise _bad()
    body = token[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        inflater = zlib.decompressobj()
        text = inflater.decompress(raw, JSON_MAX_BYTES)
        if inflater.unconsumed_tail:
            raise _bad()
        doc = json.loads(text)
    except (binascii.Error, zlib.error, ValueError, RecursionError):
        raise _bad() from None
    if not isinstance(doc, dict) or set(doc) != {"u", "r", "d", "k"}:
        raise _bad()
    if _id(doc["u"]) != user_id:
        raise _bad()
    rooms: dict[int, tuple[int, int]] = {}
    if not isinstance(doc["r"], list):
        raise _bad()
    for entry in doc["r"]:
        if not isinstance(entry, list) or len(entry) != 3:
            raise _bad()
        room, m, c = (_id(v) for v in entry)
        if room in rooms:
            raise _bad()
        rooms[room] = (m, c)
    dm = doc["d"]
    if not isinstance(dm, list) or len(dm) != 2:
        raise _bad()
    return Position(user_id, rooms, (_id(dm[0]), _id(dm[1])), _id(doc["k"]))
