"""Frames of read markers, unread counts and sync (issue 15), parsed like
every frame (:mod:`ws.frames` lists them in its ``PARSERS``); the rules
are in ``resolvers.read_markers`` and ``resolvers.sync``.

- ``read``: ``{"room", "id"}`` or ``{"with", "id"}``, answered with a
  ``read_marker`` frame; every connection of the user also gets it live;
- ``unread``: answered with ``{"type": "unread", "rooms", "dms"}``;
- ``sync``: ``{"since"}`` (optional), answered with a ``sync`` frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from resolvers.marker_events import ReadMarkerMoved
from resolvers.read_markers import Marker

if TYPE_CHECKING:
    from ws.frame_fields import Fields, Ref, RoomRef


@dataclass(frozen=True, slots=True)
class Read:
    ref: Ref
    id: int
    room: RoomRef | None
    with_user: int | None


@dataclass(frozen=True, slots=True)
class UnreadCounts:
    ref: Ref


@dataclass(frozen=True, slots=True)
class Sync:
    ref: Ref
    since: str | None


def read_parser(f: Fields) -> Read:
    has_room, has_with = f.frame.get("room") is not None, f.frame.get("with") is not None
    if has_room == has_with:
        raise f.fail("room", "Give exactly one of room and with.")
    return Read(
        ref=f.ref,
        id=f.user_id("id"),
        room=f.room() if has_room else None,
        with_user=f.user_id("with") if has_with else None,
    )


def unread_parser(f: Fields) -> UnreadCounts:
    return UnreadCounts(ref=f.ref)


def sync_parser(f: Fields) -> Sync:
    return Sync(ref=f.ref, since=f.string("since", required=False))


def marker_frame(marker: Marker) -> dict[str, Any]:
    return {"type": "read_marker", **marker.as_dict()}


def marker_event_frame(event: ReadMarkerMoved) -> dict[str, Any]:
    """A marker moved on another device (or this one): on every connection of the user."""
    return marker_frame(Marker.of_event(event))
