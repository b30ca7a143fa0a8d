"""DataLoaders: related rows load in one query per batch, never one per row.

Each loader is created on first use and kept in the context's ``loaders``
dict, so it lives as long as the context: one HTTP request. A WebSocket
context lasts the whole connection, so there loaders batch but do not
cache (a long subscription would otherwise serve stale rows and grow
without bound).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from starlette.requests import Request
from strawberry.dataloader import DataLoader

from models import Room, User
from resolvers import rooms, users
from schema.context import Context

K = TypeVar("K")
T = TypeVar("T")


def _loader(
    context: Context, name: str, load: Callable[[list[K]], Awaitable[Sequence[T]]]
) -> DataLoader[K, T]:
    loader = context.loaders.get(name)
    if loader is None:

        async def load_fn(keys: list[K]) -> Sequence[T | BaseException]:
            return await load(keys)

        loader = DataLoader[K, T](load_fn=load_fn, cache=isinstance(context.request, Request))
        context.loaders[name] = loader
    return cast(DataLoader[K, T], loader)


# For loaders defined next to their types (schema.reaction_types).
loader = _loader


def users_by_id(context: Context) -> DataLoader[int, User | None]:
    """Users by id (any user: callers decide what of them to show)."""
    return _loader(context, "users_by_id", users.get_users)


def rooms_by_id(context: Context) -> DataLoader[int, Room | None]:
    """Rooms by id, for rows a resolver already returned (no access check)."""
    return _loader(context, "rooms_by_id", rooms.rooms_by_id)


MembersKey = tuple[int, int | None, str | None]


def room_members(context: Context) -> DataLoader[MembersKey, list[User]]:
    """A page of members of rooms by (room id, first, after); [] where the
    viewer is not a member. One batch per page shape."""

    async def load(keys: list[MembersKey]) -> list[list[User]]:
        pages: dict[MembersKey, list[User]] = {}
        for first, after in {(k[1], k[2]) for k in keys}:
            room_ids = [k[0] for k in keys if (k[1], k[2]) == (first, after)]
            members = await rooms.members_of_rooms(
                actor=context.user, room_ids=room_ids, first=first, after=after
            )
            pages.update({(r, first, after): m for r, m in zip(room_ids, members, strict=True)})
        return [pages[k] for k in keys]

    return _loader(context, "room_members", load)


def prime(loader: DataLoader[Any, Any], rows: Sequence[Any]) -> None:
    """Seed a loader with rows already in hand (saves their query)."""
    loader.prime_many({row.id: row for row in rows})
