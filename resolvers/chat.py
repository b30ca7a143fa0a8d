"""Chat: rooms, memberships, room messages and direct messages.

Every rule lives here, once, for the three doors:

- a public room is visible to every signed-in user, who may join it and
  post in it; a private room exists only for its members: to anyone else
  it is NOT_FOUND (never FORBIDDEN), so its existence does not leak;
- members of a room invite others (``add_room_member``); a non-member of a
  public room is FORBIDDEN to invite (they may join it themselves first);
- a direct message is visible to its two parties only;
- content is 1..4000 characters, stored and returned byte for byte;
- ``client_id`` (1..64 characters) makes a send idempotent per author: a
  retry (same target, same content) returns the stored row and publishes
  nothing; the same key with another target or content is CONFLICT, never
  a silent success that would drop the new message (:func:`replayed`);
- a send is stored first, then published as a typed event
  (:mod:`resolvers.events`) through :mod:`resolvers.live`, with the
  channel's previous id read in the same transaction; a process that sees
  a gap fills it from the database, so every door's feed is gapless and in
  id order across processes. Within one process an insert and its publish
  also run under a lock (per room; per user for direct messages), which
  keeps gap fills rare.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.transactions import in_transaction

from core import runtime
from core.errors import BadUserInput, Conflict, Forbidden, NotFound, RateLimited
from models import DirectMessage, Membership, Message, Room, User
from resolvers import attachments as attached
from resolvers import events, limits, live, mentions, names, replies, validation
from resolvers.limits import MAX_PAGE
from resolvers.live import sources
from resolvers.pagination import Page, decode_cursor, keyset_page, page_size
from resolvers.users import require_user

# Room lists and member lists are pages: ``first`` (this default, at most
# MAX_PAGE) after an id (``after``), by id.
ROOM_NOT_FOUND = "Room not found."
USER_NOT_FOUND = "User not found."
ROOM_NAME_TAKEN = "A room with this name already exists."

M = TypeVar("M", bound=Model)


# --- channels (the live feeds of resolvers.live) ---------------------------------

room_channel = events.room_channel
user_channel = events.user_channel
fk = events.fk


# --- input checks ------------------------------------------------------------


def check_content(value: object) -> str:
    return validation.text(value, "content", min_len=1, max_len=limits.CONTENT_MAX)


def check_client_id(value: object) -> str | None:
    if value is None:
        return None
    return validation.text(value, "clientId", min_len=1, max_len=limits.CLIENT_ID_MAX)


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


def check_after(value: object, field: str = "after") -> int:
    """Where a live feed resumes: a message id (an integer or a string of
    digits) or a cursor that a history query returned; 0 means from the start."""
    if value is None:
        return 0
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.lstrip("-").isdigit() and len(text) <= 11:
            value = int(text)
        else:
            value = decode_cursor(text, field)
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise BadUserInput(f"{field} must not be negative.", field=field)
    return validation.non_negative_int(value, field)


def check_cursor(value: int | None, field: str) -> int | None:
    """A message id bounding a page (``after``/``before``): never negative."""
    if value is None:
        return None
    return validation.non_negative_int(value, field)


def _room_key(room: object) -> int | str:
    """A room reference: an id (int or all-digit string) or a name."""
    if isinstance(room, Room):
        return room.id
    if isinstance(room, bool) or not isinstance(room, int | str):
        raise BadUserInput("room must be a room name or id.", field="room")
    if isinstance(room, str) and room.isascii() and room.isdigit():
        return int(room) if len(room) <= 10 else 0
    return room


# --- rooms -------------------------------------------------------------------


async def is_member(*, user_id: int, room_id: int) -> bool:
    return await Membership.filter(room_id=room_id, user_id=user_id).exists()


async def _visible(actor: User, room: Room | None) -> Room:
    if room is None:
        raise NotFound(ROOM_NOT_FOUND)
    if room.is_private and not await is_member(user_id=actor.id, room_id=room.id):
        raise NotFound(ROOM_NOT_FOUND)
    return room


async def resolve_room(*, actor: User | None, room: str | int | Room) -> Room:
    """A room the actor may see, by id or name; NOT_FOUND otherwise."""
    user = require_user(actor)
    key = _room_key(room)
    if isinstance(key, int):
        found = await Room.get_or_none(id=key) if 1 <= key <= validation.MAX_INT32 else None
    elif 1 <= len(key) <= limits.ROOM_NAME_MAX and validation.storable(key):
        # The exact name, else any look-alike spelling of it (rows named
        # before names had keys may share one: the exact name wins).
        rows = await Room.filter(Q(name=key) | Q(name_key=names.unique_key(key))).limit(2)
        found = next((r for r in rows if r.name == key), rows[0] if rows else None)
    else:
        found = None
    return await _visible(user, found)


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


async def check_room_rate(user: User) -> None:
    """Rooms each user may create per window (ROOMS_PER_WINDOW /
    ROOMS_WINDOW_SECONDS): every room is a row that lists and joins carry."""
    rt = runtime.get()
    window = float(rt.settings.rooms_window_seconds)
    wait = await rt.limiter.acquire(f"rooms:user:{user.id}", rt.settings.rooms_per_window, window)
    if wait > 0:
        raise RateLimited(wait, "Too many rooms created; retry later.")


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
    if not found.is_private and not await is_member(user_id=user.id, room_id=found.id):
        raise Forbidden("Only members of this room may add members.")
    if not await User.filter(id=target_id, is_active=True).exists():
        raise NotFound(USER_NOT_FOUND)
    await _add_member(found, target_id)
    return found


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
    member_of = sorted({fk(m, "room") for m in mine})
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


# --- sending -----------------------------------------------------------------

_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _lock(key: str) -> asyncio.Lock:
    lock = _locks.get(key)
    if lock is None:
        lock = _locks[key] = asyncio.Lock()
    return lock


@asynccontextmanager
async def _locked(keys: Iterable[str]) -> AsyncIterator[None]:
    """Hold the locks of ``keys`` (taken in sorted order: no deadlock)."""
    async with AsyncExitStack() as stack:
        for key in sorted(set(keys)):
            await stack.enter_async_context(_lock(key))
        yield


# Public for resolvers.message_changes: a change takes a send's locks.
locked = _locked


async def check_rate(user: User) -> None:
    """The per-user message budget, shared by room messages and DMs on every door."""
    rt = runtime.get()
    key = f"msg:user:{user.id}"
    window = float(rt.settings.messages_window_seconds)
    wait = await rt.limiter.acquire(key, rt.settings.messages_per_window, window)
    if wait > 0:
        raise RateLimited(wait, "Too many messages; slow down.")


async def send_message(
    *,
    actor: User | None,
    room: str | int | Room,
    content: object,
    client_id: object = None,
    reply_to: object = None,
    attachments: object = None,
) -> Message:
    """Store a message in a room, then publish it on the room's channel.

    With a ``client_id`` already used by the actor, the stored message is
    returned and nothing is stored or published again. ``reply_to`` names a
    message of the same room (resolvers.replies); ``attachments``, files of
    the sender's (resolvers.attachments).
    """
    user = require_user(actor)
    text = check_content(content)
    key = check_client_id(client_id)
    found = await resolve_room(actor=user, room=room)
    if key is not None:
        stored = await _stored_message(user, key)
        if stored is not None:
            return replayed(stored, fk(stored, "room") == found.id, text)
    original = await replies.check_room_reply(reply_to, found.id)
    mentioned = await mentions.parse(text, found, user.id)
    files = await attached.check(attachments, user)
    await check_rate(user)
    async with _locked([room_channel(found.id)]):
        try:
            async with in_transaction() as conn:
                # Row lock: ids of a room are taken in commit order on every
                # process, so a client resuming `after` its last id misses nothing.
                await Room.filter(id=found.id).select_for_update().only("id").using_db(conn)
                message = await Message.create(
                    room=found,
                    author=user,
                    content=text,
                    client_id=key,
                    reply_to_id=original.id if original else None,
                    mentions=mentions.joined(mentioned),
                    using_db=conn,
                )
                await attached.link(files, conn=conn, message_id=message.id, dm=False)
                # The room's previous id travels with the event: a process
                # that has not delivered it yet knows it has a gap to fill.
                prev = await sources.prev_message_id(found.id, message.id, conn)
        except IntegrityError:
            stored = await _stored_message(user, key) if key is not None else None
            if stored is None:
                raise
            return replayed(stored, fk(stored, "room") == found.id, text)
        # Committed: publish (never raises; a lost publish is filled from the database).
        reply = replies.preview_of(original) if original else None
        event = events.MessagePosted.from_row(message, reply, attached.files_of(files))
        await live.publish(event, {room_channel(found.id): prev})
    await mentions.notify(message, found, mentioned)
    return message


def replayed(stored: M, same_target: bool, content: str) -> M:
    """A stored send found by its ``client_id``: the retry's answer when the
    target and content match, CONFLICT otherwise."""
    if not same_target or getattr(stored, "content", None) != content:
        raise Conflict(
            "clientId was already used for another message (other target or content).",
            field="clientId",
        )
    return stored


async def _stored_message(user: User, client_id: str) -> Message | None:
    return await Message.get_or_none(author_id=user.id, client_id=client_id).select_related("room")


async def _recipient(user_id: object, field: str) -> User:
    target_id = validation.parse_id(user_id, field)
    target = await User.get_or_none(id=target_id, is_active=True)
    if target is None:
        raise NotFound(USER_NOT_FOUND)
    return target


async def send_direct_message(
    *,
    actor: User | None,
    to: object,
    content: object,
    client_id: object = None,
    reply_to: object = None,
    attachments: object = None,
) -> DirectMessage:
    """Store a DM, then publish it on both parties' channels (idempotent by
    ``client_id``, like :func:`send_message`)."""
    user = require_user(actor)
    target_id = validation.parse_id(to, "to")
    if target_id == user.id:
        raise BadUserInput("You cannot send a direct message to yourself.", field="to")
    text = check_content(content)
    key = check_client_id(client_id)
    recipient = await _recipient(target_id, "to")
    if key is not None:
        stored = await DirectMessage.get_or_none(sender_id=user.id, client_id=key)
        if stored is not None:
            return replayed(stored, fk(stored, "recipient") == recipient.id, text)
    low, high = sorted((user.id, recipient.id))
    original = await replies.check_dm_reply(reply_to, low, high)
    files = await attached.check(attachments, user)
    await check_rate(user)
    channels = [user_channel(user.id), user_channel(recipient.id)]
    async with _locked(channels):
        try:
            async with in_transaction() as conn:
                # Both parties' rows, in id order: every DM of a user gets its
                # id in commit order, whichever process stores it.
                await (
                    User.filter(id__in=[low, high])
                    .order_by("id")
                    .select_for_update()
                    .only("id")
                    .using_db(conn)
                )
                dm = await DirectMessage.create(
                    sender=user,
                    recipient=recipient,
                    user_low=low,
                    user_high=high,
                    content=text,
                    client_id=key,
                    reply_to_id=original.id if original else None,
                    using_db=conn,
                )
                await attached.link(files, conn=conn, message_id=dm.id, dm=True)
                prevs = {
                    user_channel(party): await sources.prev_dm_id(party, dm.id, conn)
                    for party in (low, high)
                }
        except IntegrityError:
            found = (
                await DirectMessage.get_or_none(sender_id=user.id, client_id=key)
                if key is not None
                else None
            )
            if found is None:
                raise
            return replayed(found, fk(found, "recipient") == recipient.id, text)
        reply = replies.preview_of(original) if original else None
        event_dm = events.DirectMessageSent.from_row(dm, reply, attached.files_of(files))
        await live.publish(event_dm, prevs)
    return dm


# --- reading -----------------------------------------------------------------


def _attach_room(messages: list[Message], room: Room) -> list[Message]:
    for message in messages:
        message.room = room
    return messages


async def room_messages(
    *,
    actor: User | None,
    room: str | int | Room,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
) -> tuple[Room, Page[Message]]:
    """A page of a room's history, oldest first; the last 50 by default,
    at most 100 (larger sizes are clamped, negative ones refused)."""
    found = await resolve_room(actor=actor, room=room)
    page = await keyset_page(
        Message.filter(room_id=found.id),
        first=first,
        after=check_cursor(after, "after"),
        last=last,
        before=check_cursor(before, "before"),
        default_last=limits.HISTORY_DEFAULT,
        maximum=limits.HISTORY_MAX,
    )
    _attach_room(page.items, found)
    return found, page


def _conversation(user_id: int, other_id: int) -> Q:
    low, high = sorted((user_id, other_id))
    return Q(user_low=low, user_high=high)


async def direct_messages(
    *,
    actor: User | None,
    with_user: object,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
) -> Page[DirectMessage]:
    """A page of the conversation between the actor and ``with_user``."""
    user = require_user(actor)
    other = await _recipient(with_user, "withUser")
    return await keyset_page(
        DirectMessage.filter(_conversation(user.id, other.id)),
        first=first,
        after=check_cursor(after, "after"),
        last=last,
        before=check_cursor(before, "before"),
        default_last=limits.HISTORY_DEFAULT,
        maximum=limits.HISTORY_MAX,
    )


# --- batch loads (DataLoaders) -----------------------------------------------


async def rooms_by_id(ids: list[int]) -> list[Room | None]:
    """Rooms in the order asked, in one query (no access check: for rows
    already returned by a checked resolver)."""
    rows = {r.id: r for r in await Room.filter(id__in=ids)}
    return [rows.get(i) for i in ids]
