"""Frames of presence and typing (issue 15). Parsed like every frame
(:mod:`ws.frames` lists them in its ``PARSERS``); rules are in
``resolvers.presence`` and ``resolvers.typing``.

Client frames:

- ``{"type": "typing", "room": <name or id>}`` or ``{"type": "typing",
  "to": <user id>}`` (exactly one of them): answered, when it has a
  ``ref``, with ``{"type": "typing_sent", "expires_at", "delivered"}``;
- ``{"type": "presence", "room": ...}``: answered with ``{"type":
  "presence", "room", "room_id", "users": [{"id", "online",
  "last_seen"}]}``; from then on the connection also gets the room's
  ``presence_changed`` frames (while it has joined the room). Without
  ``room``: the caller's DM partners (no ``room``/``room_id``), and their
  changes from then on. A connection that never asks gets none.

Server frames (live, to the connections listening to the channel):
``presence_changed`` (``user_id``, ``online``, ``last_seen``, and
``room_id`` when it came through a room) and ``typing``
(``from_user``, ``expires_at``, and ``room``/``room_id`` or ``to_user``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from resolvers.presence import MemberPresence
from resolvers.signal_events import PresenceChanged, TypingStarted

if TYPE_CHECKING:
    from ws.frame_fields import Fields, Ref, RoomRef


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Typing:
    ref: Ref
    room: RoomRef | None
    to: int | None


@dataclass(frozen=True, slots=True)
class Presence:
    ref: Ref
    room: RoomRef | None  # None: the caller's DM partners


def typing_parser(f: Fields) -> Typing:
    has_room, has_to = f.frame.get("room") is not None, f.frame.get("to") is not None
    if has_room == has_to:
        raise f.fail("room", "typing needs exactly one of room (a room) or to (a user id).")
    if has_room:
        return Typing(ref=f.ref, room=f.room(), to=None)
    return Typing(ref=f.ref, room=None, to=f.user_id("to"))


def presence_parser(f: Fields) -> Presence:
    return Presence(ref=f.ref, room=f.room() if f.frame.get("room") is not None else None)


def typing_sent_frame(expires_at: datetime, delivered: bool) -> dict[str, Any]:
    return {"type": "typing_sent", "expires_at": _timestamp(expires_at), "delivered": delivered}


def presence_frame(
    room: str | None, room_id: int | None, members: list[MemberPresence]
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "presence"}
    if room is not None:
        frame["room"], frame["room_id"] = room, room_id
    frame["users"] = [
        {
            "id": m.user_id,
            "online": m.online,
            "last_seen": _timestamp(m.last_seen) if m.last_seen else None,
        }
        for m in members
    ]
    return frame


def signal_frame(event: PresenceChanged | TypingStarted) -> dict[str, Any]:
    """The live frame of a presence change or a typing signal."""
    if isinstance(event, PresenceChanged):
        frame: dict[str, Any] = {
            "type": "presence_changed",
            "user_id": event.user_id,
            "online": event.online,
            "last_seen": _timestamp(event.last_seen),
        }
        if event.room_id:
            frame["room_id"] = event.room_id
        return frame
    frame = {
        "type": "typing",
        "from_user": event.user_id,
        "expires_at": _timestamp(event.expires_at),
    }
    if event.room_id:
        frame["room"] = event.room_name
        frame["room_id"] = event.room_id
    else:
        frame["to_user"] = event.to_user
    return frame
