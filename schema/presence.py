"""Presence and typing on GraphQL: who is online, "typing" signals, live.

Rules are in ``resolvers.presence`` and ``resolvers.typing``. The live
subscriptions listen to a room's channel (with ``room``, the access rule of
``roomMessages``) or to the caller's own channel (without: DM partners'
presence, and typing in DMs to the caller). Signals are never stored:
there is no ``after`` to resume from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import strawberry

from core.errors import ComptoirError
from resolvers import presence, rooms, typing
from resolvers.events import Event, room_channel, user_channel
from resolvers.limits import PRESENCE_MEMBERS_MAX
from resolvers.signal_events import PresenceChanged, TypingStarted
from schema import loaders
from schema.context import Info
from schema.fanout import LiveSource
from schema.rooms import Room
from schema.subscriptions import graphql_error, live_claims
from schema.users import User, known_user


async def _room(info: Info, room_id: int) -> Room | None:
    if not room_id:
        return None
    row = await loaders.rooms_by_id(info.context).load(room_id)
    return Room.from_row(row) if row else None


@strawberry.type(description="A room member, online or not.")
class MemberPresence:
    online: bool
    last_seen: datetime | None = strawberry.field(
        description="The last time the member was known to be connected (null: not seen "
        "since presence is kept)."
    )
    _user_id: strawberry.Private[int]

    @strawberry.field
    async def user(self, info: Info) -> User:
        return await known_user(info, self._user_id)


@strawberry.type(description="A user came online or went offline.")
class PresenceChange:
    online: bool
    last_seen: datetime
    _user_id: strawberry.Private[int]
    _room_id: strawberry.Private[int]

    @strawberry.field
    async def user(self, info: Info) -> User:
        return await known_user(info, self._user_id)

    @strawberry.field(description="The shared room it came through; null for a DM partner.")
    async def room(self, info: Info) -> Room | None:
        return await _room(info, self._room_id)


@strawberry.type(description="Someone is typing, until `expiresAt` unless repeated.")
class TypingSignal:
    expires_at: datetime
    _user_id: strawberry.Private[int]
    _room_id: strawberry.Private[int]

    @strawberry.field
    async def user(self, info: Info) -> User:
        return await known_user(info, self._user_id)

    @strawberry.field(description="The room; null for a DM to the caller.")
    async def room(self, info: Info) -> Room | None:
        return await _room(info, self._room_id)


@strawberry.type(description="The answer to a typing signal.")
class TypingReceipt:
    expires_at: datetime
    delivered: bool = strawberry.field(
        description="false: throttled (an earlier signal of the caller still holds)."
    )


def _receipt(sent: typing.Typing) -> TypingReceipt:
    return TypingReceipt(expires_at=sent.expires_at, delivered=sent.delivered)


@strawberry.type
class PresenceQueries:
    @strawberry.field(
        description="The room's members with whether they are online and when last seen, "
        f"online first (at most {PRESENCE_MEMBERS_MAX}; same access rule as roomMessages)."
    )
    async def room_presence(self, info: Info, room: str) -> list[MemberPresence]:
        _, members = await presence.room_presence(actor=info.context.user, room=room)
        return [
            MemberPresence(online=m.online, last_seen=m.last_seen, _user_id=m.user_id)
            for m in members
        ]


@strawberry.type
class PresenceMutations:
    @strawberry.mutation(
        description="Tell a room the caller is typing (whoever may send a message there). "
        "Not stored; delivered on Subscription.typing."
    )
    async def signal_typing(self, info: Info, room: str) -> TypingReceipt:
        return _receipt(await typing.in_room(actor=info.context.user, room=room))

    @strawberry.mutation(
        description="Tell a DM partner the caller is typing to them (whoever may send them "
        "a direct message)."
    )
    async def signal_direct_typing(self, info: Info, to: strawberry.ID) -> TypingReceipt:
        return _receipt(await typing.to_user(actor=info.context.user, to=to))


def _change_of(event: Event) -> PresenceChange | None:
    if not isinstance(event, PresenceChanged):
        return None
    return PresenceChange(
        online=event.online,
        last_seen=event.last_seen,
        _user_id=event.user_id,
        _room_id=event.room_id,
    )


def _typing_of(event: Event) -> TypingSignal | None:
    if not isinstance(event, TypingStarted):
        return None
    return TypingSignal(expires_at=event.expires_at, _user_id=event.user_id, _room_id=event.room_id)


async def _channel(info: Info, room: str | None) -> str:
    if room is None:
        user = info.context.user
        assert user is not None
        return user_channel(user.id)
    try:
        found = await rooms.resolve_room(actor=info.context.user, room=room)
    except ComptoirError as error:
        raise graphql_error(error) from None
    return room_channel(found.id)


@strawberry.type
class PresenceSubscriptions:
    @strawberry.subscription(
        description="Members of `room` coming online or going offline (same access rule as "
        "roomMessages); without `room`, the caller's DM partners."
    )
    async def presence_changes(
        self, info: Info, room: str | None = None
    ) -> AsyncIterator[PresenceChange]:
        claims = live_claims(info.context)
        return LiveSource(claims, await _channel(info, room), None, _change_of)

    @strawberry.subscription(
        description="Typing signals in `room` (the caller's own included); without `room`, "
        "those of DMs to the caller."
    )
    async def typing(self, info: Info, room: str | None = None) -> AsyncIterator[TypingSignal]:
        claims = live_claims(info.context)
        return LiveSource(claims, await _channel(info, room), None, _typing_of)
