"""Mentions on GraphQL: the caller's own feed (rules in ``resolvers.mentions``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry

from core.errors import ComptoirError
from resolvers import pagination
from resolvers.change_events import MessageMentioned
from resolvers.events import Event, user_channel
from schema import loaders
from schema.chat import Room
from schema.context import Info
from schema.fanout import LiveSource
from schema.subscriptions import graphql_error, live_claims
from schema.users import User


@strawberry.type(description="The caller was mentioned in a room message.")
class Mention:
    event_id: strawberry.ID = strawberry.field(description="Pass it as `after` to resume.")
    message_id: strawberry.ID
    content: str = strawberry.field(description="The message as it is now; empty once deleted.")
    deleted: bool
    _room_id: strawberry.Private[int]
    _author_id: strawberry.Private[int]

    @strawberry.field
    async def room(self, info: Info) -> Room | None:
        row = await loaders.rooms_by_id(info.context).load(self._room_id)
        return Room.from_row(row) if row else None

    @strawberry.field
    async def author(self, info: Info) -> User | None:
        row = await loaders.users_by_id(info.context).load(self._author_id)
        return User.from_row(row) if row else None

    @classmethod
    def from_event(cls, event: Event) -> Mention | None:
        if not isinstance(event, MessageMentioned):
            return None
        return cls(
            event_id=strawberry.ID(str(event.id)),
            message_id=strawberry.ID(str(event.message_id)),
            content=event.content,
            deleted=event.deleted,
            _room_id=event.room_id,
            _author_id=event.author_id,
        )


@strawberry.type
class MentionSubscriptions:
    @strawberry.subscription(
        description="Each time someone mentions the caller (@displayName or <@id>) in a room "
        "the caller can see, joined or not. `after` (an eventId or a DM id: mentions share the "
        "caller's DM id space) replays the stored ones after it first."
    )
    async def mentions(
        self, info: Info, after: strawberry.ID | None = None
    ) -> AsyncIterator[Mention]:
        claims = live_claims(info.context)
        user = info.context.user
        assert user is not None
        try:
            after_id = None if after is None else pagination.check_after(after)
        except ComptoirError as error:
            raise graphql_error(error) from None
        return LiveSource(claims, user_channel(user.id), after_id, Mention.from_event)
