"""Typing: "I am typing" in a room or to a DM partner, live and never stored.

A signal reaches the other participants through :mod:`resolvers.live` as a
:class:`resolvers.signal_events.TypingStarted`: on the room's channel (every
connection listening to the room, the sender's included), or on the DM
recipient's own channel. It carries ``expires_at``, ``TYPING_TTL_SECONDS``
from now: a client shows "typing" until then unless another signal comes.

Who may signal: exactly who may send a message there (the refusals of
``resolvers.messages.send_message`` and ``resolvers.direct_messages.send_direct_message``), with no
content. Signals are throttled per user and conversation: within
``TYPING_THROTTLE_SECONDS`` of a delivered one (on any process, with Redis),
another is accepted but not delivered again (:attr:`Typing.delivered`
False); clients repeat it every few seconds while typing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core import runtime
from core.errors import BadUserInput
from models import Room, User
from resolvers import live, presence, rooms, users, validation
from resolvers.events import room_channel, user_channel
from resolvers.signal_events import TypingStarted
from resolvers.users import require_user


@dataclass(frozen=True, slots=True)
class Typing:
    expires_at: datetime
    delivered: bool  # False: throttled (an earlier signal still holds)


def _expiry() -> datetime:
    ttl = runtime.get().settings.typing_ttl_seconds
    return datetime.now(UTC) + timedelta(seconds=ttl)


async def _throttled(key: str) -> bool:
    seconds = runtime.get().settings.typing_throttle_seconds
    try:
        return not await presence.store().throttle(key, seconds)
    except Exception:  # the store is away: deliver rather than drop
        return False


async def in_room(*, actor: User | None, room: str | int | Room) -> Typing:
    user = require_user(actor)
    found = await rooms.resolve_room(actor=user, room=room)
    expires = _expiry()
    if await _throttled(f"{user.id}:room:{found.id}"):
        return Typing(expires_at=expires, delivered=False)
    await live.signal(
        TypingStarted(
            channel=room_channel(found.id),
            user_id=user.id,
            expires_at=expires,
            room_id=found.id,
            room_name=found.name,
        )
    )
    return Typing(expires_at=expires, delivered=True)


async def to_user(*, actor: User | None, to: object) -> Typing:
    user = require_user(actor)
    target_id = validation.parse_id(to, "to")
    if target_id == user.id:
        raise BadUserInput("You cannot send a direct message to yourself.", field="to")
    recipient = await users.active_user(target_id, "to")
    expires = _expiry()
    if await _throttled(f"{user.id}:dm:{recipient.id}"):
        return Typing(expires_at=expires, delivered=False)
    await live.signal(
        TypingStarted(
            channel=user_channel(recipient.id),
            user_id=user.id,
            expires_at=expires,
            to_user=recipient.id,
        )
    )
    return Typing(expires_at=expires, delivered=True)
