"""Typed events that are signals, not history: presence changes and typing.

They travel like every event (:mod:`resolvers.events`: a frozen dataclass
per fact, one broker document per channel, rendered by each door), but are
never stored: ``ephemeral`` tells the live feed (:mod:`resolvers.live.feed`)
to hand them to the listeners that are live on the channel right now,
outside the channel's id order. Their ``id`` is always 0; a resuming client
gets no replay of them, and a signal lost on the broker stays lost.

Each event names the one channel it was published on (``channel``):
a room's (``room:{id}``) or a user's (``user:{id}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from resolvers.events import register


@register
@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """``user_id`` came online or went offline. On a room's channel
    (``room_id`` set) for its members, or on an online DM partner's own
    channel (``room_id`` 0)."""

    kind: ClassVar[str] = "presence"
    ephemeral: ClassVar[bool] = True
    channel: str
    user_id: int
    online: bool
    last_seen: datetime
    room_id: int = 0
    id: int = 0

    def channels(self) -> tuple[str, ...]:
        return (self.channel,)


@register
@dataclass(frozen=True, slots=True)
class TypingStarted:
    """``user_id`` is typing in a room (``room_id``) or to ``to_user`` (a DM,
    ``room_id`` 0), until ``expires_at`` unless they signal again."""

    kind: ClassVar[str] = "typing"
    ephemeral: ClassVar[bool] = True
    channel: str
    user_id: int
    expires_at: datetime
    room_id: int = 0
    room_name: str = ""
    to_user: int = 0
    id: int = 0

    def channels(self) -> tuple[str, ...]:
        return (self.channel,)
