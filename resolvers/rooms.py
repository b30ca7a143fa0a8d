"""Rooms: names, lookup, who sees and belongs to a room, and room pages.

Every room rule lives here, once, for the three doors:

- a public room is visible to every signed-in user, who may join it and
  post in it; a private room exists only for its members: to anyone else
  it is NOT_FOUND (never FORBIDDEN), so its existence does not leak
  (:func:`resolve_room`, the one visibility check; :func:`is_member`);
- members of a room invite others (``add_room_member``); a non-member of a
  public room is FORBIDDEN to invite (they may join it themselves first);
- one namespace for every room name, private ones included: a name is how
  every door addresses a room (a REST path segment too), so it must mean
  one room (:mod:`resolvers.names`);
- room lists and member lists are keyset pages by id;
- a member leaves a room (:func:`leave_room`, idempotent like joining):
  the creator too (creating a room gives no lasting right), but not the
  last member of a private room (CONFLICT: nobody could ever reach it
  again, nor free its name). Once out of a private room it is NOT_FOUND to
  them, a second leave included; a public room's second leave is a no-op.
  Everything that follows membership follows at once: history of a private
  room, sync (the room is in ``left``), unread counts, presence; and the
  leaver's live feeds of the room opened before, on every process, end
  (:mod:`resolvers.membership_events`).

Room messages are :mod:`resolvers.messages`.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from core import runtime
from core.errors import BadUserInput, Conflict, NotFound
from models import Membership, Room, User
from models.prepared import Prepared
from resolvers import budgets, limits, live, names, permissions, validation
from resolvers.limits import MAX_PAGE
from resolvers.membership_events import MemberLeft
from resolvers.pagination import check_after, page_size
from resolvers.permissions import Action
from resolvers.users import active_user, require_user

# An unknown room reads as a private room the caller may not see.
ROOM_NOT_FOUND = permissions.refusal(Action.PRIVATE_ROOM_READ)
ROOM_NAME_TAKEN = "A room with this name already exists."


# --- names -------------------------------------------------------------------

# A REST path names a room in one segment: "/" cannot be carried in it (even
# as %2F, which servers and proxies decode), and clients drop "." and ".."
# segments before sending.
PATH_UNSAFE_CHARS = "/"
PATH_UNSAFE_NAMES = (".", "..")


def check_room_name(value: object) -> str:
    """A new room's name: one line, no control characters, not all digits,
    and carried as is in a REST path (``/chat/rooms/{room}/messages``)."""
    name = names.refuse_controls(
        validation.single_line(value, "name", max_len=limits.ROOM_NAME_MAX), "name"
    )
    if name.isdigit() or names.unique_key(name).isdigit():
        raise BadUserInput(
            "name must not be all digits (rooms are also named by id).", field="name"
        )
    if name in PATH_UNSAFE_NAMES or any(c in name for c in PATH_UNSAFE_CHARS):
        raise BadUserInput(
            'name must not contain "/" nor be "." or ".." (rooms are named in URL paths).',
            field="name",
        )
    return name


def room_name_key(name: str) -> str:
    """The uniqueness key of a room name (:mod:`resolvers.names`)."""
    return names.checked_key(name, "name", names.ROOM_KEY_MAX)


def _room_key(room: object) -> int | str:
    """A room reference: an id (int or all-digit string) or a name."""
    if isinstance(room, Room):
        return room.id
    if isinstance(room, bool) or not isinstance(room, int | str):
        raise BadUserInput("room must be a room name or id.", field="room")
    if isinstance(room, str) and room.isascii() and room.isdigit():
        return int(room) if len(room) <= 10 else 0
    return room


# --- lookup and visibility ---------------------------------------------------


async def is_member(*, user_id: int, room_id: int) -> bool:
    return await Membership.filter(room_id=room_id, user_id=user_id).exists()


async def _visible(actor: User, room: Room | None) -> Room:
    if room is None:
        raise NotFound(ROOM_NOT_FOUND)
    if room.is_private:
        member = await is_member(user_id=actor.id, room_id=room.id)
        permissions.require(Action.PRIVATE_ROOM_READ, actor, member=member)
    return room


def _room_lookup(by_name: bool, **key: int | str) -> QuerySet[Room]:
    if not by_name:
        return Room.filter(id=key["id"]).limit(1)
    return Room.filter(Q(name=key["name"]) | Q(name_key=key["name_key"])).limit(2)


# Every room-scoped request looks its room up: one prepared statement per
# kind of reference (models.prepared), rendered once, read afresh each time.
_ROOM_LOOKUP = Prepared(Room, _room_lookup)


async def resolve_room(*, actor: User | None, room: str | int | Room) -> Room:
    """A room the actor may see, by id or name; NOT_FOUND otherwise."""
    user = require_user(actor)
    key = _room_key(room)
    if isinstance(key, int):
        found = None
        if 1 <= key <= validation.MAX_INT32:
            rows = await _ROOM_LOOKUP.objects(False, id=key)
            found = rows[0] if rows else None
    elif 1 <= len(key) <= limits.ROOM_NAME_MAX and validation.storable(key):
        # The exact name, else any look-alike spelling of it (rows named
        # before names had keys may share one: the exact name wins).
        rows = await _ROOM_LOOKUP.objects(True, name=key, name_key=names.unique_key(key))
        found = next((r for r in rows if r.name == key), rows[0] if rows else None)
    else:
        found = None
    return await _visible(user, found)


# --- create, join, add a member ----------------------------------------------


async def check_room_rate(user: User) -> None:
    """Rooms each user may create per window (ROOMS_PER_WINDOW /
    ROOMS_WINDOW_SECONDS): every room is a row that lists and joins carry."""
    s = runtime.get().settings
    key, refusal = f"rooms:user:{user.id}", "Too many rooms created; retry later."
    await budgets.spend(key, s.rooms_per_window, s.rooms_window_seconds, refusal)


async def create_room(*, actor: User | None, name: object, is_private: object = False) -> Room:
    user = require_user(actor)
    room_name = check_room_name(name)
    if not isinstance(is_private, bool):
        raise BadUserInput("isPrivate must be a boolean.", field="isPrivate")
    key = room_name_key(room_name)
    # One namespace for every room, private ones included (README, Security):
    # a name is how every door addresses a room, so it must mean one room.
    # Counted before the name is looked up: probing names costs budget too.
    await check_room_rate(user)
    if await Room.filter(name_key=key).exists():
        raise Conflict(ROOM_NAME_TAKEN, field="name")
    try:
        async with in_transaction():
            room = await Room.create(
                name=room_name, name_key=key, is_private=is_private, created_by=user
            )
            await Membership.create(room=room, user=user)
    except IntegrityError:
        raise Conflict(ROOM_NAME_TAKEN, field="name") from None
    return room


async def _add_member(room: Room, user_id: int) -> None:
    if await is_member(user_id=user_id, room_id=room.id):
        return
    try:
        await Membership.create(room_id=room.id, user_id=user_id)
    except IntegrityError:  # joined concurrently: already a member
        pass


async def join_room(*, actor: User | None, room: str | int | Room) -> Room:
    """Join a public room (idempotent). A private room is NOT_FOUND unless
    the actor is already a member, which is then a no-op."""
    user = require_user(actor)
    found = await resolve_room(actor=user, room=room)
    if not found.is_private:
        await _add_member(found, user.id)
    return found


async def add_room_member(*, actor: User | None, room: str | int | Room, user_id: object) -> Room:
    """A member of a room adds another user (idempotent).

    Private room and not a member: NOT_FOUND. Public room and not a member:
    FORBIDDEN (join it first). Unknown user: NOT_FOUND.
    """
    user = require_user(actor)
    target_id = validation.parse_id(user_id, "userId")
    found = await resolve_room(actor=user, room=room)
    if not found.is_private:  # a private room's members are all who see it
        member = await is_member(user_id=user.id, room_id=found.id)
        permissions.require(Action.ROOM_MEMBER_ADD, user, member=member)
    await active_user(target_id, "userId")
    await _add_member(found, target_id)
    return found


LAST_MEMBER = (
    "The last member of a private room cannot leave it (add another member first): "
    "nobody could reach it again."
)


async def leave_room(*, actor: User | None, room: str | int | Room) -> Room:
    """Leave a room (idempotent). Private and not a member: NOT_FOUND (a
    second leave too); the last member of a private room: CONFLICT."""
    user = require_user(actor)
    found = await resolve_room(actor=user, room=room)
    async with in_transaction() as conn:
        # The room's row lock: two last members leaving at once cannot both go.
        await Room.filter(id=found.id).select_for_update().only("id").using_db(conn)
        mine = Membership.filter(room_id=found.id, user_id=user.id).using_db(conn)
        if not await mine.exists():
            return found
        others = Membership.filter(room_id=found.id).exclude(user_id=user.id).using_db(conn)
        if found.is_private and not await others.exists():
            raise Conflict(LAST_MEMBER, field="room")
        await mine.delete()
        # Under the room's row lock, so that on the room's channel it comes
        # before every message stored after the leave (resolvers.membership_events):
        # the leaver's live feeds of the room end before any of those reaches them.
        await live.signal(MemberLeft(found.id, found.name, user.id))
    return found


# --- pages -------------------------------------------------------------------


def _list_page(first: int | None, after: object, default: int) -> tuple[int, int]:
    """``first`` (default ``default``, clamped to MAX_PAGE, never negative) and
    the id to start after (0: from the start) of a room or member list."""
    size = page_size(first, "first", maximum=MAX_PAGE)
    return (default if size is None else size), check_after(after)


async def list_rooms(
    *, actor: User | None, first: int | None = None, after: object = None
) -> list[Room]:
    """A page of the public rooms and the private rooms the actor belongs
    to, by id: the first ``first`` (default :data:`limits.ROOMS_PAGE_DEFAULT`, at
    most MAX_PAGE) after the room id ``after``."""
    user = require_user(actor)
    size, after_id = _list_page(first, after, limits.ROOMS_PAGE_DEFAULT)
    mine = Subquery(Membership.filter(user_id=user.id).values("room_id"))
    visible = Room.filter(Q(is_private=False) | Q(id__in=mine), id__gt=after_id)
    return list(await visible.order_by("id").limit(size))


async def members_of_rooms(
    *, actor: User | None, room_ids: list[int], first: int | None = None, after: object = None
) -> list[list[User]]:
    """A page of the members of each room (rooms in the order asked, members
    in the order they joined): the first ``first`` (default
    :data:`limits.MEMBERS_PAGE_DEFAULT`, at most MAX_PAGE) after the member whose
    user id is ``after``, in two queries for all the rooms.
    A room the actor is not a member of yields [] (members are visible to
    members only)."""
    user = require_user(actor)
    size, after_id = _list_page(first, after, limits.MEMBERS_PAGE_DEFAULT)
    by_room: dict[int, list[User]] = {i: [] for i in room_ids}
    mine = await Membership.filter(room_id__in=room_ids, user_id=user.id).only("id", "room_id")
    member_of = sorted({m.room_id for m in mine})
    if member_of and size > 0:
        pairs = await _member_pages(member_of, after_id, size)
        users = {u.id: u for u in await User.filter(id__in={u for _, u in pairs})}
        for room_id, user_id in pairs:
            by_room[room_id].append(users[user_id])
    return [by_room[i] for i in room_ids]


async def _member_pages(room_ids: list[int], after: int, size: int) -> list[tuple[int, int]]:
    """(room id, user id) of the first ``size`` members of each room, in join
    order, after the membership of user ``after`` (0: from the first; not a
    member: nothing): one window query, so a page never reads a whole room."""
    conn = Membership._meta.db
    values: list[int] = [*room_ids]
    after_clause = ""
    if after:
        values.append(after)
        after_clause = (
            " AND id > (SELECT m.id FROM memberships m WHERE m.room_id = memberships.room_id "
            "AND m.user_id = {})"
        )
    values.append(size)
    marks = (
        [f"${i}" for i in range(1, len(values) + 1)]
        if conn.capabilities.dialect == "postgres"
        else ["?"] * len(values)
    )
    rooms_in = ", ".join(marks[: len(room_ids)])
    sql = (
        "SELECT room_id, user_id, id FROM (SELECT room_id, user_id, id, ROW_NUMBER() OVER "
        "(PARTITION BY room_id ORDER BY id) AS n FROM memberships "
        f"WHERE room_id IN ({rooms_in}){after_clause.format(marks[-2]) if after else ''}) "
        f"AS ranked WHERE n <= {marks[-1]} ORDER BY room_id, id"
    )
    _count, rows = await conn.execute_query(sql, values)
    return [(int(row["room_id"]), int(row["user_id"])) for row in rows]


async def room_members(*, actor: User | None, room: Room) -> list[User]:
    (members,) = await members_of_rooms(actor=actor, room_ids=[room.id])
    return members


async def rooms_by_id(ids: list[int]) -> list[Room | None]:
    """Rooms in the order asked, in one query (no access check: for rows
    already returned by a checked resolver)."""
    rows = {r.id: r for r in await Room.filter(id__in=ids)}
    return [rows.get(i) for i in ids]
