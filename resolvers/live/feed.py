"""One channel's feed in this process: one broker subscription, in order, no gap.

A :class:`Feed` subscribes to its channel once for all its local listeners.
Once the broker confirms the subscription (the probe, see
:meth:`resolvers.live.Live.probe`), it reads the channel's head from the
database: that is ``last``, the id delivered last. From then on each event
from the broker is:

- a duplicate when ``id <= last`` (dropped);
- next when ``prev_id <= last`` (delivered, ``last = id``);
- after a gap when ``prev_id > last``: another process's publish has not
  arrived yet, or was lost. The feed reads ``(last, id]`` from the
  database, in order, and delivers it.

When the broker goes away the feed keeps its listeners and resubscribes
with backoff; once live again it fills ``(last, head]`` from the database.
Only a broker that stays away past ``BROKER_GRACE_SECONDS`` ends the feed
(``Listener.lost``).

A leave is not stored as an event (``resolvers.membership_events``): a
``MemberLeft`` published while the broker was away is lost, and no gap
shows it. So a room's feed remembers which of its listeners' users were
members when they attached (a listener names its user with ``user_id``),
and once live again, *before* filling, asks the database which of them
still are (one query); to each listener whose user left meanwhile it
delivers the ``MemberLeft`` it missed, so that listener ends before any
message stored after the leave reaches it.

A signal (an event marked ``ephemeral``: presence, typing) goes at once to
the listeners that are live, without touching ``last`` (a member leaving,
``reaches_replaying``, to the replaying ones too).

A listener attaching with ``after`` gets the stored events after it
(replay, in pages), while live events are held for it; the held ones it
has not seen follow, and it is live. Without ``after`` it is live at once.

The fan-out does its per-event work once, not once per listener. A live
listener is *in step* when it has everything up to ``last``: every event
the feed emits next is new to it, so it needs no dedupe state of its own.
The in-step listeners are kept by class, and each event goes to each class
in one call, ``deliver_many(event, listeners)``, when the class has one
(the chat WS client renders and frames the event once and writes the same
bytes to every socket; a GraphQL subscriber hands its group the whole
list). Only a listener whose replay read past what the broker has brought
yet is *ahead*: it keeps its own ``last`` and is deduped on its own until
the feed catches up with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from core.errors import ServiceUnavailable
from resolvers.events import Event, Undecodable, decode
from resolvers.live import sources
from resolvers.membership_events import MemberLeft

if TYPE_CHECKING:
    from resolvers.live import Listener

log = logging.getLogger("comptoir.live")

REPLAY_PAGE = 200
FILL_PAGE = 1000
# Live events held for one listener while it replays; past this it is dropped.
HOLD_MAX = 10_000
BACKOFF_FIRST = 0.05
BACKOFF_MAX = 0.5
BROKER_AWAY = "The live feed's broker is unavailable; reconnect."


class _Member:
    __slots__ = ("held", "last", "listener", "member_of_room")

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        # The id delivered last; only kept up to date while not in step.
        self.last = 0
        # Events held while replaying; None once live.
        self.held: list[Event] | None = []
        # The listener's user, when it belonged to the feed's room as it
        # attached: a leave it may miss during an outage ends it (_recheck).
        self.member_of_room: int | None = None


def _deliver_each(event: Event, listeners: list[Listener]) -> None:
    for listener in listeners:
        try:
            listener.deliver(event)
        except Exception:
            log.exception("listener failed on %s", type(event).__name__)


class Feed:
    def __init__(
        self,
        channel: str,
        subscribe: Callable[[str], Any],
        probe: Callable[[], Awaitable[None]],
        grace: float,
    ) -> None:
        self.channel = channel
        self._subscribe = subscribe
        self._probe = probe
        self._grace = grace
        self.members: dict[Listener, _Member] = {}
        # Members replaying stored events (their live events are held).
        self._replaying: dict[Listener, _Member] = {}
        # Live members with everything up to ``last``, by class (see the module doc).
        self._in_step: dict[type, dict[Listener, None]] = {}
        # Live members whose replay read past ``last``: deduped one by one.
        self._ahead: dict[Listener, _Member] = {}
        self.last: int | None = None
        self.live = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.recoveries = 0

    # --- listeners ---------------------------------------------------------------------

    async def attach(self, listener: Listener, after: int | None) -> None:
        if listener in self.members:
            raise ValueError(f"listener already attached to {self.channel}")
        member = self.members[listener] = self._replaying[listener] = _Member(listener)
        start = self.last if self.ready.done() else None
        member.member_of_room = await _room_member(self.channel, listener)
        await asyncio.shield(self.ready)
        if self.members.get(listener) is not member:
            return  # detached meanwhile
        if after is None:
            member.last = start if start is not None else self._base
        else:
            member.last = after
            await self._replay(member)
            if self.members.get(listener) is not member:
                return
        held, member.held = member.held or [], None
        del self._replaying[listener]
        for event in held:
            if event.id > member.last:
                member.last = event.id
                member.listener.deliver(event)
        # Live from here on, with no await in between: nothing is missed.
        if member.last <= self._base:
            self._step_in(listener)
        else:
            self._ahead[listener] = member

    def _step_in(self, listener: Listener) -> None:
        self._in_step.setdefault(type(listener), {})[listener] = None

    async def _replay(self, member: _Member) -> None:
        drained = getattr(member.listener, "drained", None)
        while True:
            batch = await sources.events_after(self.channel, member.last, REPLAY_PAGE)
            for event in batch:
                if member.held is None:
                    return  # dropped meanwhile
                member.last = event.id
                member.listener.deliver(event)
            if len(batch) < REPLAY_PAGE:
                return
            if drained is not None:
                await drained()

    def detach(self, listener: Listener) -> bool:
        """Forget ``listener``; True when the feed has no listener left."""
        self._forget(listener)
        return not self.members

    def _forget(self, listener: Listener) -> _Member | None:
        member = self.members.pop(listener, None)
        if member is None:
            return None
        member.held = None  # a replay in progress stops
        self._replaying.pop(listener, None)
        self._ahead.pop(listener, None)
        group = self._in_step.get(type(listener))
        if group is not None and listener in group:
            del group[listener]
            if not group:
                del self._in_step[type(listener)]
        return member

    # --- delivery --------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        self.last = event.id
        for member in list(self._replaying.values()):
            held = member.held
            if held is not None:
                held.append(event)
                if len(held) > HOLD_MAX:
                    self._drop(member, "fell behind while replaying")
        caught_up = self._emit_ahead(event) if self._ahead else ()
        self._to_in_step(event)
        for listener in caught_up:
            if self._ahead.pop(listener, None) is not None:
                self._step_in(listener)

    def _emit_ahead(self, event: Event) -> list[Listener]:
        """Deliver ``event`` to the members that are ahead, if new to them;
        return those that are in step once it is delivered."""
        caught_up = []
        for listener, member in list(self._ahead.items()):
            if event.id > member.last:
                member.last = event.id
                _deliver_each(event, [listener])
                self.delivered += 1
            if member.last <= event.id:
                caught_up.append(listener)
        return caught_up

    def _to_in_step(self, event: Event) -> None:
        """One call per listener class: ``deliver_many`` when it has one."""
        for kind, group in list(self._in_step.items()):
            listeners = list(group)
            many = getattr(kind, "deliver_many", None)
            if many is None:
                _deliver_each(event, listeners)
            else:
                try:
                    many(event, listeners)
                except Exception:
                    log.exception("listeners of %s failed", self.channel)
            self.delivered += len(listeners)

    def _signal(self, event: Event) -> None:
        """A signal (resolvers.signal_events): to the listeners live now,
        outside the channel's id order; never stored, never replayed. One
        marked ``reaches_replaying`` (resolvers.membership_events) also goes
        to the listeners still replaying."""
        if getattr(event, "reaches_replaying", False) and self._replaying:
            _deliver_each(event, list(self._replaying))
        if self._ahead:
            _deliver_each(event, list(self._ahead))
        self._to_in_step(event)

    async def _recheck(self) -> None:
        """Back from an outage, before filling: end the listeners whose user
        left the room meanwhile (their ``MemberLeft`` may have been lost)."""
        users = {u for m in self.members.values() if (u := m.member_of_room) is not None}
        room_id = sources.room_of(self.channel)
        if not users or room_id is None:
            return
        still, name = await sources.members_among(room_id, users)
        for member in list(self.members.values()):
            user_id = member.member_of_room
            if user_id is None or user_id in still:
                continue
            member.member_of_room = None
            log.info("live feed %s: user %s left while the broker was away", self.channel, user_id)
            try:
                member.listener.deliver(MemberLeft(room_id, name, user_id))
            except Exception:
                log.exception("listener of %s failed", self.channel)

    def _drop(self, member: _Member, why: str) -> None:
        self._forget(member.listener)
        member.listener.lost(ServiceUnavailable(5, f"Live feed ended: {why}."))

    async def _fill(self, upto: int | None) -> None:
        """Deliver stored events after ``last`` (up to ``upto``), in order."""
        assert self.last is not None
        while upto is None or self.last < upto:
            batch = await sources.events_after(self.channel, self.last, FILL_PAGE)
            for event in batch:
                if upto is not None and event.id > upto:
                    return
                self._emit(event)
            if len(batch) < FILL_PAGE:
                return

    async def _on_document(self, doc: dict[str, Any]) -> None:
        try:
            event, prev_id = decode(doc)
        except Undecodable:
            return  # not an event (a probe, another version's kind)
        if getattr(event, "ephemeral", False):
            self._signal(event)
            return
        last = self.last
        assert last is not None
        if event.id <= last:
            return
        if prev_id > last:
            await self._fill(event.id)
            if self.last is not None and event.id <= self.last:
                return
        self._emit(event)

    # --- the broker subscription ----------------------------------------------------------------

    @property
    def _base(self) -> int:
        assert self.last is not None
        return self.last

    async def run(self, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        backoff = BACKOFF_FIRST
        away_since: float | None = None
        while True:
            try:
                async with self._subscribe(self.channel) as documents:
                    await self._probe()
                    top = await sources.head(self.channel)
                    if self.last is None:
                        self.last = top
                    else:
                        await self._recheck()
                        await self._fill(None)
                    if away_since is not None:
                        self.recoveries += 1
                        log.info(
                            "live feed %s back after %.2fs",
                            self.channel,
                            time.monotonic() - away_since,
                        )
                    self.live, away_since, backoff = True, None, BACKOFF_FIRST
                    if not self.ready.done():
                        self.ready.set_result(None)
                    async for doc in documents:
                        await self._on_document(doc)
            except asyncio.CancelledError:
                if not self.ready.done():
                    self.ready.cancel()
                raise
            except Exception as exc:
                if self.live or away_since is None:
                    log.warning("live feed %s lost its broker: %s", self.channel, exc)
                if not self.ready.done():  # never live: refuse now, do not hang
                    # The listeners are all still in attach(): it raises for them.
                    self._clear()
                    self.ready.set_exception(ServiceUnavailable(5, BROKER_AWAY))
                    return
            self.live = False
            now = time.monotonic()
            away_since = now if away_since is None else away_since
            if now - away_since > self._grace:
                log.error("live feed %s: broker away past %.0fs", self.channel, self._grace)
                self._end()
                return
            await asyncio.sleep(backoff)
            backoff = min(BACKOFF_MAX, backoff * 2)

    def _clear(self) -> list[_Member]:
        members = list(self.members.values())
        for member in members:
            member.held = None
        self.members, self._replaying, self._ahead, self._in_step = {}, {}, {}, {}
        return members

    def _end(self) -> None:
        for member in self._clear():
            member.listener.lost(ServiceUnavailable(5, BROKER_AWAY))


async def _room_member(channel: str, listener: Listener) -> int | None:
    """The listener's user (``user_id``) when it belongs to the channel's
    room now; None otherwise (not a room, no user, or not a member: a
    public room's reader who never joined is not ended by a recheck)."""
    user_id = getattr(listener, "user_id", None)
    room_id = sources.room_of(channel)
    if not isinstance(user_id, int) or room_id is None:
        return None
    still, _ = await sources.members_among(room_id, {user_id}, named=False)
    return user_id if user_id in still else None
