"""Presence: who is online, told to whoever shares a room or a DM with them.

A user is online while at least one of their real-time connections is open
(a chat WebSocket or a GraphQL WebSocket, on any process): each door calls
:func:`connected` when a connection opens and :func:`disconnected` when it
ends. The leases behind it are in :mod:`core.presence_leases` (Redis across
processes, else this process's memory).

Changes are :class:`resolvers.signal_events.PresenceChanged` signals,
published through :mod:`resolvers.live`:

- on the channel of every room the user is a member of (delivered to the
  connections listening to that room: joined on the chat WS, subscribed on
  GraphQL);
- on the own channel of each DM partner who is online.

No flapping: a connection that closes keeps its lease for
``PRESENCE_GRACE_SECONDS``, so a reconnect within it announces nothing.
A process that dies (SIGKILL) stops renewing its leases: its users go
offline at most ``PRESENCE_LEASE_SECONDS`` + :data:`SWEEP_SECONDS` later.

Last seen also goes to the database (:mod:`resolvers.last_seen`): once per
offline transition, just before it is announced, and for this process's
users when it stops cleanly; queries read it for offline users.

Who in a room is online (:func:`room_presence`) follows the rule of reading
the room's messages (``resolvers.rooms.resolve_room``); anyone may read the
presence of their own DM partners (:func:`partner_presence`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Q

from core.presence_leases import SWEEP_SECONDS, PresenceStore, build_store
from core.settings import Settings
from models import DirectMessage, Membership, Room, User
from resolvers import last_seen, limits, live, rooms
from resolvers.events import room_channel, user_channel
from resolvers.signal_events import PresenceChanged
from resolvers.users import require_user

log = logging.getLogger("comptoir.presence")

# Members listed by a presence query (the first ones by user id), and DM
# partners told of a change (the most recent ones).
# Background tasks of each process (tests that count queries leave them out).
SWEEP_TASK = "presence sweep"
ANNOUNCE_TASK = "presence announcer"
BACKGROUND_TASKS = frozenset({SWEEP_TASK, ANNOUNCE_TASK})
ANNOUNCE_BATCH = 500
YIELD_EVERY = 64

Change = tuple[int, bool, int]  # user id, online, last seen (ms since the epoch)


@dataclass(frozen=True, slots=True)
class MemberPresence:
    user_id: int
    online: bool
    last_seen: datetime | None  # None: never seen since presence was kept


class _Presence:
    def __init__(self, store: PresenceStore, lease_seconds: float) -> None:
        self.store = store
        self.renew_every = lease_seconds / 3
        self.tasks: set[asyncio.Task[None]] = set()
        self.loop: asyncio.Task[None] | None = None
        # Changes to announce, by one worker in batches (a churn of
        # connections costs one membership query per batch, not per user).
        self.changes: asyncio.Queue[Change] = asyncio.Queue()
        self.announcer: asyncio.Task[None] | None = None
        self.batch: list[Change] = []  # being announced (stop() stores it)

    def spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self) -> None:
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                if time.monotonic() - renewed >= self.renew_every:
                    renewed = time.monotonic()
                    for user_id in await self.store.renew():
                        self.changes.put_nowait((user_id, True, int(time.time() * 1000)))
                for user_id, seen in await self.store.sweep():
                    self.changes.put_nowait((user_id, False, seen))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("presence sweep failed", exc_info=True)

    async def announce_forever(self) -> None:
        while True:
            batch = [await self.changes.get()]
            while not self.changes.empty() and len(batch) < ANNOUNCE_BATCH:
                batch.append(self.changes.get_nowait())
            self.batch = batch
            await last_seen.record(_offline(batch))
            await announce(batch)
            self.batch = []


def _offline(changes: list[Change]) -> list[tuple[int, int]]:
    return [(user_id, seen) for user_id, online, seen in changes if not online]


_current: _Presence | None = None


def _get() -> _Presence:
    if _current is None:
        raise RuntimeError("presence not started")
    return _current


async def start(settings: Settings) -> None:
    """Start keeping presence in this process (after ``resolvers.live.start``)."""
    global _current
    store = build_store(
        settings.broadcast_url,
        prefix=settings.pubsub_prefix,
        grace_seconds=settings.presence_grace_seconds,
        lease_seconds=settings.presence_lease_seconds,
    )
    presence = _Presence(store, settings.presence_lease_seconds)
    presence.loop = asyncio.create_task(presence.run(), name=SWEEP_TASK)
    presence.announcer = asyncio.create_task(presence.announce_forever(), name=ANNOUNCE_TASK)
    _current = presence


async def stop() -> None:
    global _current
    presence, _current = _current, None
    if presence is None:
        return
    workers = [task for task in (presence.loop, presence.announcer) if task is not None]
    for task in workers:
        task.cancel()
    if workers:
        # Not ``await task`` under suppress(CancelledError): that would also
        # swallow a cancellation of stop() itself (its shutdown step's bound).
        await asyncio.wait(workers)
    if presence.tasks:
        await asyncio.wait(presence.tasks, timeout=5)
    # Offline transitions not stored yet, and the users this process keeps.
    pending = list(presence.batch)
    while not presence.changes.empty():
        pending.append(presence.changes.get_nowait())
    try:
        await last_seen.record(_offline(pending) + await presence.store.local())
    except Exception:
        log.warning("presence: storing last seen at stop failed", exc_info=True)
    await presence.store.close()


def store() -> PresenceStore:
    return _get().store


# --- the doors' hooks -----------------------------------------------------------------


async def connected(user_id: int, lease: str) -> None:
    """A connection of ``user_id`` opened (``lease``: its id, unique)."""
    presence = _current
    if presence is None:  # not serving (a schema run outside the app)
        return
    try:
        came_online = await presence.store.connect(user_id, lease)
    except Exception:  # presence is best effort: the connection goes on
        log.warning("presence unavailable", exc_info=True)
        return
    if came_online:
        presence.changes.put_nowait((user_id, True, int(time.time() * 1000)))


def disconnected(user_id: int, lease: str) -> None:
    """That connection ended (its lease lasts the grace period more)."""
    if _current is not None:
        _current.spawn(_disconnect(_current.store, user_id, lease))


async def _disconnect(store: PresenceStore, user_id: int, lease: str) -> None:
    try:
        await store.disconnect(user_id, lease)
    except Exception:  # the lease expires on its own
        log.warning("presence: releasing a lease failed", exc_info=True)


# --- announcing -----------------------------------------------------------------------


async def dm_partners(user_id: int) -> list[int]:
    rows = (
        await DirectMessage.filter(Q(sender_id=user_id) | Q(recipient_id=user_id))
        .order_by("-id")
        .limit(limits.PRESENCE_PARTNERS_MAX * 4)
        .values_list("sender_id", "recipient_id")
    )
    partners: dict[int, None] = {}
    for sender, recipient in rows:
        partners[recipient if sender == user_id else sender] = None
        if len(partners) >= limits.PRESENCE_PARTNERS_MAX:
            break
    return list(partners)


async def announce(changes: list[Change]) -> None:
    """Tell the rooms of each changed user, and their online DM partners:
    one membership query for the batch; the event loop gets a turn every
    :data:`YIELD_EVERY` publishes, so a churn never holds a fan-out back."""
    try:
        users = list({user_id for user_id, _, _ in changes})
        rows: list[Any] = await Membership.filter(user_id__in=users).values_list(
            "user_id", "room_id"
        )
        rooms: dict[int, list[int]] = {}
        for user_id, room_id in rows:
            rooms.setdefault(int(user_id), []).append(int(room_id))
        published = 0
        for user_id, online, seen_ms in changes:
            seen = last_seen.at(seen_ms)
            events = [
                PresenceChanged(
                    channel=room_channel(room_id),
                    user_id=user_id,
                    online=online,
                    last_seen=seen,
                    room_id=room_id,
                )
                for room_id in rooms.get(user_id, [])
            ]
            partners = await dm_partners(user_id)
            states = await store().states(partners)
            events += [
                PresenceChanged(
                    channel=user_channel(partner), user_id=user_id, online=online, last_seen=seen
                )
                for partner in partners
                if states[partner][0]
            ]
            for event in events:
                await live.signal(event)
                published += 1
                if published % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
    except Exception:
        log.warning("announcing presence changes failed", exc_info=True)


# --- reading ---------------------------------------------------------------------------


async def room_presence(
    *, actor: User | None, room: str | int | Room
) -> tuple[Room, list[MemberPresence]]:
    """Each member of ``room`` (the first :data:`limits.PRESENCE_MEMBERS_MAX` by
    id), online or not, and when last seen; online ones first."""
    user = require_user(actor)
    found = await rooms.resolve_room(actor=user, room=room)
    rows: list[Any] = (
        await Membership.filter(room_id=found.id)
        .order_by("user_id")
        .limit(limits.PRESENCE_MEMBERS_MAX)
        .values_list("user_id", flat=True)
    )
    ids = [int(i) for i in rows]
    return found, await _states(ids)


async def partner_presence(*, actor: User | None) -> list[MemberPresence]:
    """The caller's DM partners (the most recent :data:`limits.PRESENCE_PARTNERS_MAX`),
    online or not, and when last seen; online ones first."""
    user = require_user(actor)
    return await _states(await dm_partners(user.id))


async def _states(ids: list[int]) -> list[MemberPresence]:
    """Online and last seen from the store; for offline users, the later of
    the store's last seen and the stored one (the store may have lost it)."""
    states = await store().states(ids)
    kept = await last_seen.stored([i for i in ids if not states[i][0]])
    members = []
    for i in ids:
        online, seen_ms = states[i]
        seen = last_seen.at(seen_ms) if seen_ms else None
        if not online and i in kept and (seen is None or kept[i] > seen):
            seen = kept[i]
        members.append(MemberPresence(user_id=i, online=online, last_seen=seen))
    members.sort(key=lambda m: not m.online)
    return members
