"""Mentions on GraphQL: the caller's own feed (rules in ``resolvers.mentions``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry

from resolvers.change_events import MessageMentioned
from resolvers.events import Event
from schema.context import Info
from schema.feeds import feed
from schema.rooms import Room, room_by_id
from schema.users import User, user_by_id


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
        return await room_by_id(info, self._room_id)

    @strawberry.field
    async def author(self, info: Info) -> User | None:
        return await user_by_id(info, self._author_id)

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
        return await feed(info, Mention.from_event, after)
