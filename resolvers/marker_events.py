"""The typed event of a read marker that moved (issue 15).

It belongs to the marker owner's own channel (``user:{id}``) only: their
other devices follow it live. Its ``id`` is the marker's ``seq``, in the
user's DM id space (``resolvers.read_markers``), so it orders, replays and
fills gaps with the rest of that channel (``resolvers.live.sources``).
``room_id`` is set for a room (``with_user`` 0), ``with_user`` for a DM
conversation (``room_id`` 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from resolvers.events import register, user_channel


@register
@dataclass(frozen=True, slots=True)
class ReadMarkerMoved:
    kind: ClassVar[str] = "read_marker"
    id: int
    user_id: int
    room_id: int
    room_name: str
    with_user: int
    last_read_id: int

    def channels(self) -> tuple[str, ...]:
        return (user_channel(self.user_id),)
