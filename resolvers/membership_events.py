"""A membership signal: a user left a room, and their live feeds of it end.

:class:`MemberLeft` travels on the room's channel (``room:{id}``), like a
signal (:mod:`resolvers.signal_events`: never stored, id 0), but it is an
order barrier rather than news:

- ``resolvers.rooms.leave_room`` publishes it *while it holds the room's row
  lock*, after deleting the membership. Every message of the room takes
  that lock to get its id (``resolvers.messages``), so every message
  committed after the leave is published after it: on the room's channel
  the leave comes before them, in every process (the broker keeps a
  channel's order, and a feed handles its documents one at a time).
- Every process with a listener of that room already subscribes to the
  room's channel; a user's channel would need every process to follow every
  user, and would not be ordered with the room's messages.
- Each listener of the room looks at ``user_id``: those of the leaver end
  (a GraphQL subscription completes with NOT_FOUND, a chat connection
  detaches the room and says ``left``); the others ignore it.
- ``reaches_replaying``: it also reaches listeners still replaying stored
  events (a signal otherwise only goes to live ones), so that a feed opened
  just before the leave ends too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from resolvers.events import register, room_channel

LEFT_ROOM = "You left this room."


@register
@dataclass(frozen=True, slots=True)
class MemberLeft:
    """``user_id`` left the room ``room_id`` (named ``room_name`` then)."""

    kind: ClassVar[str] = "member_left"
    ephemeral: ClassVar[bool] = True
    reaches_replaying: ClassVar[bool] = True
    room_id: int
    room_name: str
    user_id: int
    id: int = 0

    def channels(self) -> tuple[str, ...]:
        return (room_channel(self.room_id),)


def ends(event: object, user_id: int) -> bool:
    """Whether ``event`` ends the room feeds of ``user_id``."""
    return isinstance(event, MemberLeft) and event.user_id == user_id
