"""Rooms on GraphQL: the ``Room`` type, listing and finding rooms, creating
joining and leaving them (rules in ``resolvers.rooms``).

``Room`` keeps only ids of its relations and loads them through the
per-request DataLoaders (``schema.loaders``).
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.errors import NotFound
from models import Room as RoomRow
from resolvers import limits, permissions, rooms
from resolvers.permissions import Action
from schema import loaders
from schema.context import Info
from schema.fanout_keys import VIEWER_DEPENDENT
from schema.users import User, user_by_id


def _page(default: int, after: str) -> str:
    """How a plain list field (``rooms``, ``members``) pages."""
    return (
        f"the first `first` (default {default}, at most {limits.MAX_PAGE}) after {after}; "
        "a page shorter than `first` is the last."
    )


@strawberry.type
class Room:
    id: strawberry.ID
    name: str = strawberry.field(
        description=f"Unique, 1..{limits.ROOM_NAME_MAX} characters, not all digits "
        "(rooms are also named by id)."
    )
    is_private: bool
    created_at: datetime
    _row_id: strawberry.Private[int]
    _created_by_id: strawberry.Private[int | None]

    @strawberry.field
    async def created_by(self, info: Info) -> User | None:
        return await user_by_id(info, self._created_by_id)

    @strawberry.field(
        description="Visible to members only: empty for anyone else. A page in join order: "
        + _page(limits.MEMBERS_PAGE_DEFAULT, "the member whose user id is `after`"),
        metadata=VIEWER_DEPENDENT,
    )
    async def members(
        self,
        info: Info,
        first: int = limits.MEMBERS_PAGE_DEFAULT,
        after: strawberry.ID | None = None,
    ) -> list[User]:
        key = (self._row_id, first, None if after is None else str(after))
        rows = await loaders.room_members(info.context).load(key)
        return [User.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, row: RoomRow) -> Room:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            is_private=row.is_private,
            created_at=row.created_at,
            _row_id=row.id,
            _created_by_id=getattr(row, "created_by_id", None),
        )


async def room_by_id(info: Info, room_id: int) -> Room | None:
    """A room some row of the caller's points to (no access check: the row's
    own resolver made it); null once the room is gone."""
    row = await loaders.rooms_by_id(info.context).load(room_id)
    return Room.from_row(row) if row else None


def prime_rooms(info: Info, rows: list[RoomRow]) -> None:
    """Rooms a resolver holds already: their ``room`` fields cost no query."""
    loaders.prime(loaders.rooms_by_id(info.context), rows)


@strawberry.type
class RoomQueries:
    @strawberry.field(
        description="Public rooms and the private rooms the caller belongs to, a page by id: "
        + _page(limits.ROOMS_PAGE_DEFAULT, "the room id `after`")
    )
    async def rooms(
        self, info: Info, first: int = limits.ROOMS_PAGE_DEFAULT, after: strawberry.ID | None = None
    ) -> list[Room]:
        rows = await rooms.list_rooms(actor=info.context.user, first=first, after=after)
        return [Room.from_row(r) for r in rows]

    @strawberry.field(
        description="A room by id or name; null if it does not exist. A private room is "
        f"shown to {permissions.who(Action.PRIVATE_ROOM_READ)}."
    )
    async def room(self, info: Info, room: str) -> Room | None:
        try:
            row = await rooms.resolve_room(actor=info.context.user, room=room)
        except NotFound:
            return None
        return Room.from_row(row)


@strawberry.type
class RoomMutations:
    @strawberry.mutation(description="The creator becomes a member.")
    async def create_room(self, info: Info, name: str, is_private: bool = False) -> Room:
        row = await rooms.create_room(actor=info.context.user, name=name, is_private=is_private)
        return Room.from_row(row)

    @strawberry.mutation(description="Public rooms only (idempotent).")
    async def join_room(self, info: Info, room: str) -> Room:
        return Room.from_row(await rooms.join_room(actor=info.context.user, room=room))

    @strawberry.mutation(
        description=f"{permissions.describe(Action.ROOM_MEMBER_ADD)} Adds another user "
        "(idempotent)."
    )
    async def add_room_member(self, info: Info, room: str, user_id: strawberry.ID) -> Room:
        row = await rooms.add_room_member(actor=info.context.user, room=room, user_id=user_id)
        return Room.from_row(row)

    @strawberry.mutation(
        description="Leave a room (idempotent; the creator too). A private room is NOT_FOUND "
        "to a non-member, a second leave included; its last member cannot leave it (CONFLICT). "
        "The room then shows in sync's `left`, and leaves unread counts and presence."
    )
    async def leave_room(self, info: Info, room: str) -> Room:
        return Room.from_row(await rooms.leave_room(actor=info.context.user, room=room))
