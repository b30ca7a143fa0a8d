"""Read markers and unread counts on GraphQL (rules in ``resolvers.read_markers``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry

from core.errors import ComptoirError
from resolvers import pagination, read_markers
from resolvers.events import Event, user_channel
from resolvers.marker_events import ReadMarkerMoved
from schema.context import Info
from schema.fanout import LiveSource
from schema.subscriptions import graphql_error, live_claims


@strawberry.type(description="Where the caller has read up to in a room or a DM conversation.")
class ReadMarker:
    room_id: strawberry.ID | None = strawberry.field(description="The room; null for a DM.")
    room_name: str | None
    with_user: strawberry.ID | None = strawberry.field(
        description="The other party of a DM conversation; null for a room."
    )
    last_read_id: strawberry.ID = strawberry.field(description="The last message id read.")
    event_id: strawberry.ID = strawberry.field(
        description="The marker's last move in the caller's feed (the DM id space): "
        "pass it as `after` to resume."
    )

    @classmethod
    def of(cls, m: read_markers.Marker) -> ReadMarker:
        return cls(
            room_id=strawberry.ID(str(m.room_id)) if m.room_id else None,
            room_name=m.room_name if m.room_id else None,
            with_user=strawberry.ID(str(m.with_user)) if m.with_user else None,
            last_read_id=strawberry.ID(str(m.last_read_id)),
            event_id=strawberry.ID(str(m.seq)),
        )

    @classmethod
    def from_event(cls, event: Event) -> ReadMarker | None:
        if not isinstance(event, ReadMarkerMoved):
            return None
        return cls.of(read_markers.Marker.of_event(event))


@strawberry.type(description="Unread and mention counts of a room or a DM conversation.")
class UnreadCount:
    room_id: strawberry.ID | None = strawberry.field(description="The room; null for a DM.")
    room_name: str | None
    with_user: strawberry.ID | None = strawberry.field(
        description="The other party of a DM conversation; null for a room."
    )
    last_read_id: strawberry.ID = strawberry.field(description="0 when nothing was read yet.")
    unread: int = strawberry.field(
        description="Messages after the marker, neither deleted nor the caller's own."
    )
    mentions: int = strawberry.field(
        description="Of those, the ones mentioning the caller (every one, in a DM)."
    )

    @classmethod
    def of(cls, u: read_markers.Unread) -> UnreadCount:
        return cls(
            room_id=strawberry.ID(str(u.room_id)) if u.room_id else None,
            room_name=u.room_name if u.room_id else None,
            with_user=strawberry.ID(str(u.with_user)) if u.with_user else None,
            last_read_id=strawberry.ID(str(u.last_read_id)),
            unread=u.unread,
            mentions=u.mentions,
        )


@strawberry.type
class ReadMarkerQueries:
    @strawberry.field(
        description="Every room of the caller's, then every DM conversation with something "
        "unread: unread and mention counts after the caller's read markers."
    )
    async def unread_counts(self, info: Info) -> list[UnreadCount]:
        rows = await read_markers.unread_counts(actor=info.context.user)
        return [UnreadCount.of(u) for u in rows]


@strawberry.type
class ReadMarkerMutations:
    @strawberry.mutation(
        description="Move the caller's read marker of a room forward to a message of it "
        "(a lower id changes nothing and answers the current marker)."
    )
    async def mark_room_read(self, info: Info, room: str, message_id: strawberry.ID) -> ReadMarker:
        marker = await read_markers.mark_room_read(
            actor=info.context.user, room=room, message_id=message_id
        )
        return ReadMarker.of(marker)

    @strawberry.mutation(
        description="Move the caller's read marker of a DM conversation forward, as markRoomRead."
    )
    async def mark_direct_messages_read(
        self, info: Info, with_user: strawberry.ID, message_id: strawberry.ID
    ) -> ReadMarker:
        marker = await read_markers.mark_dm_read(
            actor=info.context.user, with_user=with_user, message_id=message_id
        )
        return ReadMarker.of(marker)


@strawberry.type
class ReadMarkerSubscriptions:
    @strawberry.subscription(
        description="The caller's read markers as they move, from any of their devices. "
        "`after` (an eventId or a DM id: markers share the caller's DM id space) replays "
        "the markers that moved after it first."
    )
    async def read_markers(
        self, info: Info, after: strawberry.ID | None = None
    ) -> AsyncIterator[ReadMarker]:
        claims = live_claims(info.context)
        user = info.context.user
        assert user is not None
        try:
            after_id = None if after is None else pagination.check_after(after)
        except ComptoirError as error:
            raise graphql_error(error) from None
        return LiveSource(claims, user_channel(user.id), after_id, ReadMarker.from_event)
