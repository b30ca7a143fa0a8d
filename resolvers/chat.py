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
  retry returns the stored row and publishes nothing;
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
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.transactions import in_transaction

from core import runtime
from core.errors import BadUserInput, Conflict, Forbidden, NotFound, RateLimited
from models import DirectMessage, Membership, Message, Room, User
from resolvers import attachments as attached
from resolvers import events, live, mentions, replies, validation
from resolvers.live import sources
from resolvers.pagination import Page, decode_cursor, keyset_page
from resolvers.users import require_user

ROOM_NAME_MAX = 64
CONTENT_MAX = 4000
CLIENT_ID_MAX = 64
HISTORY_DEFAULT = 50
HISTORY_MAX = 100
ROOM_NOT_FOUND = "Room not found."
USER_NOT_FOUND = "User not found."

M = TypeVar("M", bound=Model)


# --- channels (the live feeds of resolvers.live) ---------------------------------

room_channel = events.room_channel
user_channel = events.user_channel
fk = events.fk


# --- input checks ------------------------------------------------------------


def check_content(value: object) -> str:
    return validation.text(value, "content", min_len=1, max_len=CONTENT_MAX)


def check_client_id(value: object) -> str | None:
    if value is None:
        return None
    return validation.text(value, "clientId", min_len=1, max_len=CLIENT_ID_MAX)


def check_room_name(value: object) -> str:
    name = validation.single_line(value, "name", max_len=ROOM_NAME_MAX)
    if name.isdigit():
        raise BadUserInput(
            "name must not be all digits (rooms are also named by id).", field="name"
        )
    return name


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
    elif 1 <= len(key) <= ROOM_NAME_MAX and validation.storable(key):
        found = await Room.get_or_none(name=key)
    else:
        found = None
    return await _visible(user, found)


async def list_rooms(*, actor: User | None) -> list[Room]:
    """Public rooms and the private rooms the actor belongs to, by id."""
    user = require_user(actor)
    memberships = await Membership.filter(user_id=user.id).only("id", "room_id")
    room_ids = [fk(m, "room") for m in memberships]
    return list(await Room.filter(Q(is_private=False) | Q(id__in=room_ids)).order_by("id"))


async def create_room(*, actor: User | None, name: object, is_private: object = False) -> Room:
    user = require_user(actor)
    room_name = check_room_name(name)
    if not isinstance(is_private, bool):
        raise BadUserInput("isPrivate must be a boolean.", field="isPrivate")
    if await Room.filter(name=room_name).exists():
        raise Conflict("A room with this name already exists.", field="name")
    try:
        async with in_transaction():
            room = await Room.create(name=room_name, is_private=is_private, created_by=user)
            await Membership.create(room=room, user=user)
    except IntegrityError:
        raise Conflict("A room with this name already exists.", field="name") from None
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


async def members_of_rooms(*, actor: User | None, room_ids: list[int]) -> list[list[User]]:
    """Members of each room, in the order asked, in one query; a room the
    actor is not a member of yields [] (members are visible to members only)."""
    user = require_user(actor)
    by_room: dict[int, list[User]] = {i: [] for i in room_ids}
    mine = await Membership.filter(room_id__in=room_ids, user_id=user.id).only("id", "room_id")
    member_of = [fk(m, "room") for m in mine]
    if member_of:
        rows = Membership.filter(room_id__in=member_of).select_related("user").order_by("id")
        for row in await rows:
            by_room[fk(row, "room")].append(row.user)
    return [by_room[i] for i in room_ids]


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
            return stored
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
            return stored
        # Committed: publish (never raises; a lost publish is filled from the database).
        reply = replies.preview_of(original) if original else None
        event = events.MessagePosted.from_row(message, reply, attached.files_of(files))
        await live.publish(event, {room_channel(found.id): prev})
    await mentions.notify(message, found, mentioned)
    return message


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
            return stored
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
            return found
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
        default_last=HISTORY_DEFAULT,
        maximum=HISTORY_MAX,
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
        default_last=HISTORY_DEFAULT,
        maximum=HISTORY_MAX,
    )


# --- batch loads (DataLoaders) -----------------------------------------------


async def rooms_by_id(ids: list[int]) -> list[Room | None]:
    """Rooms in the order asked, in one query (no access check: for rows
    already returned by a checked resolver)."""
    rows = {r.id: r for r in await Room.filter(id__in=ids)}
    return [rows.get(i) for i in ids]
