"""A subscription's live feed: access checked first, then its channel.

Every chat subscription listens to one of two channels of the live module
(``resolvers.live``): a room's, with the access rule of
``Query.roomMessages``, or the caller's own (direct messages, their
changes, mentions), for which the session is enough. ``after`` is a stored
id of that channel (a message id, an eventId or a history cursor): what was
stored after it comes first, then live events, in id order across
processes, no gap, no duplicate. Each subscription only says how to render
an event (None: not for it). The feed ends when the connection's session
does (``schema.subscriptions``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import strawberry

from core.errors import ComptoirError
from resolvers import pagination, rooms
from resolvers.events import Event, room_channel, user_channel
from schema.context import Info
from schema.fanout import LiveSource
from schema.subscriptions import graphql_error, live_claims

T = TypeVar("T")


async def feed(
    info: Info,
    render: Callable[[Event], T | None],
    after: strawberry.ID | None,
    room: str | None = None,
) -> LiveSource[T]:
    """``room``'s feed, or the caller's own without one."""
    claims = live_claims(info.context)
    user = info.context.user
    assert user is not None  # live_claims checked it
    try:
        if room is None:
            channel = user_channel(user.id)
        else:
            channel = room_channel((await rooms.resolve_room(actor=user, room=room)).id)
        after_id = None if after is None else pagination.check_after(after)
    except ComptoirError as error:
        raise graphql_error(error) from None
    return LiveSource(claims, channel, after_id, render)
