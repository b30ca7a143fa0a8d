"""Sync on GraphQL: ``sync(since)`` (rules in ``resolvers.sync``)."""

from __future__ import annotations

import strawberry

from resolvers import limits
from resolvers import sync as syncing
from resolvers.change_events import ChangeEvent
from schema.context import Info
from schema.mentions import Mention
from schema.message_changes import MessageChange
from schema.message_types import DirectMessage, Message
from schema.read_markers import ReadMarker
from schema.rooms import Room, prime_rooms


def _changes(events: list[ChangeEvent]) -> list[MessageChange]:
    return [c for c in (MessageChange.from_event(e) for e in events) if c is not None]


@strawberry.type(description="What changed in one room of the caller's since the token.")
class SyncRoom:
    room: Room
    joined: bool = strawberry.field(description="The caller joined it since the token.")
    messages: list[Message] = strawberry.field(
        description=f"New messages, oldest first; at most the newest {limits.SYNC_ROOM_MESSAGES}."
    )
    limited: bool = strawberry.field(
        description="More were new: page back with roomMessages(before: `before`)."
    )
    before: strawberry.ID | None = strawberry.field(
        description="When limited: the history cursor to page back from."
    )
    changes: list[MessageChange] = strawberry.field(
        description=f"Edits, deletions and reactions, in order; at most {limits.SYNC_CHANGES}."
    )
    changes_limited: bool = strawberry.field(
        description="More changes follow: sync again with `next`."
    )


@strawberry.type(description="Everything that changed for the caller since `since`.")
class SyncResult:
    next: str = strawberry.field(description="Pass it as `since` to the next sync.")
    rooms: list[SyncRoom] = strawberry.field(description="Rooms with something new.")
    left: list[strawberry.ID] = strawberry.field(description="Rooms the caller no longer is in.")
    direct_messages: list[DirectMessage] = strawberry.field(
        description=f"New DMs, oldest first; at most {limits.SYNC_DMS}."
    )
    direct_messages_limited: bool = strawberry.field(description="More follow: sync again.")
    direct_message_changes: list[MessageChange]
    direct_message_changes_limited: bool
    read_markers: list[ReadMarker] = strawberry.field(
        description="The caller's read markers that moved, as they are now."
    )
    mentions: list[Mention] = strawberry.field(
        description="The caller's mentions, in rooms joined or not (as the `mentions` "
        "subscription); more follow when directMessageChangesLimited."
    )


@strawberry.type
class SyncQueries:
    @strawberry.field(
        description="Everything that changed for the caller since `since` (the `next` of the "
        "previous sync; none: from the start), and the next token. A client that only calls "
        "this, passing each `next` back and paging back where `limited`, misses nothing."
    )
    async def sync(self, info: Info, since: str | None = None) -> SyncResult:
        found = await syncing.sync(actor=info.context.user, since=since)
        prime_rooms(info, [r.room for r in found.rooms])
        return SyncResult(
            next=found.next,
            rooms=[
                SyncRoom(
                    room=Room.from_row(r.room),
                    joined=r.joined,
                    messages=[Message.from_row(m) for m in r.messages],
                    limited=r.limited,
                    before=strawberry.ID(str(r.before)) if r.before else None,
                    changes=_changes(r.changes),
                    changes_limited=r.changes_limited,
                )
                for r in found.rooms
            ],
            left=[strawberry.ID(str(i)) for i in found.left],
            direct_messages=[DirectMessage.from_row(d) for d in found.dms],
            direct_messages_limited=found.dms_limited,
            direct_message_changes=_changes(found.dm_changes),
            direct_message_changes_limited=found.dm_changes_limited,
            read_markers=[ReadMarker.of(m) for m in found.markers],
            mentions=[m for m in map(Mention.from_event, found.mentions) if m is not None],
        )
