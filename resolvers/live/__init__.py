"""The live module: every real-time door's feeds, in one place.

A message's path, from resolver to socket::

    resolvers.messages.send_message      store the row; in the same transaction
        |                                read the room's previous id (prev_id)
        v  after commit
    live.publish(MessagePosted, prev)    one broker document per channel
        v
    broker (Redis or in-memory)          every process subscribed to room:{id}
        v
    Feed (resolvers.live.feed)           one subscription per channel per process;
        |                                dedupe (id <= last), fill gaps from the
        |                                database (prev_id > last), in id order
        v
    Listener.deliver(event)              ws.client.Client -> a chat frame
                                         schema.messages -> a GraphQL payload

:class:`Live` is built once per process (:func:`start`) and shared by the
chat WebSocket server and the GraphQL subscriptions. The doors only turn
:mod:`resolvers.events` into their wire format.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import Protocol

from core import runtime
from core.errors import ComptoirError, ServiceUnavailable
from core.pubsub import PubSub
from core.security import AccessClaims
from resolvers.events import Event, encode
from resolvers.live import sources
from resolvers.live.feed import Feed
from resolvers.live.sessions import (
    OnEnd,
    Sessions,
    SessionWatch,
    check_unexpired,
    seconds_left,
)

__all__ = [
    "Listener",
    "Live",
    "SessionWatch",
    "check_unexpired",
    "get",
    "publish",
    "seconds_left",
    "signal",
    "start",
    "stop",
]

log = logging.getLogger("comptoir.live")

PROBE_TIMEOUT = 5.0


class Listener(Protocol):
    """A local consumer of one or more channels (a socket, a subscription).

    It may also define ``async def drained(self) -> None``: awaited between
    replay pages, to pace a long replay to what the consumer takes (the chat
    WS client waits for its socket to drain); and ``user_id``, whose it is:
    a room's feed then delivers it the ``MemberLeft`` of its user that an
    outage of the broker lost (``resolvers.live.feed``).

    Its class may define ``deliver_many(event, listeners)`` (a static or
    class method): the same as ``deliver(event)`` on each of ``listeners``
    (all of that class), in one call, so that what does not depend on the
    listener is done once per event (see :mod:`resolvers.live.feed`). It
    must not raise for one listener's failure.
    """

    def deliver(self, event: Event) -> None:
        """One event, in id order for this listener, never concurrently with
        another call for it. Must not block (buffer or drop instead)."""
        ...

    def lost(self, error: ComptoirError) -> None:
        """The feed ended for good (broker away past BROKER_GRACE_SECONDS, or
        the listener fell too far behind). Nothing more will be delivered."""
        ...


class Live:
    def __init__(self, pubsub: PubSub, *, grace: float) -> None:
        self._pubsub = pubsub
        self._grace = grace
        self._feeds: dict[str, Feed] = {}
        # Feeds being torn down: a new one of the same channel waits for it.
        self._stopping: dict[str, asyncio.Task[None]] = {}
        self.sessions = Sessions(pubsub.subscribe, self.probe)

    async def start(self) -> None:
        await self.sessions.start()

    async def close(self) -> None:
        for feed in list(self._feeds.values()):
            self._stop(feed)
        tasks = [t for t in self._stopping.values() if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await self.sessions.close()

    # --- feeds -----------------------------------------------------------------------------

    @property
    def channels(self) -> frozenset[str]:
        return frozenset(self._feeds)

    def feed(self, channel: str) -> Feed | None:
        return self._feeds.get(channel)

    def members(self, channel: str) -> int:
        feed = self._feeds.get(channel)
        return len(feed.members) if feed else 0

    async def attach(self, channel: str, listener: Listener, *, after: int | None) -> None:
        """Returns once ``listener`` will receive every event of ``channel``
        after ``after`` (stored ones first), or, without ``after``, every event
        from now on: in strictly increasing id order, no gap, no duplicate.

        Raises SERVICE_UNAVAILABLE when the broker cannot be reached. Pair
        every call with :meth:`detach`, even when it raises or is cancelled.
        """
        sources.check_channel(channel)
        feed = self._feeds.get(channel)
        if feed is None:
            feed = self._feeds[channel] = Feed(
                channel, self._pubsub.subscribe, self.probe, self._grace
            )
            feed.task = asyncio.create_task(
                feed.run(self._stopping.get(channel)), name=f"live {channel}"
            )
            feed.task.add_done_callback(lambda _: self._ended(feed))
        try:
            await feed.attach(listener, after)
        except BaseException:
            self.detach(channel, listener)
            raise

    def detach(self, channel: str, listener: Listener) -> None:
        feed = self._feeds.get(channel)
        if feed is not None and feed.detach(listener):
            self._stop(feed)

    def _ended(self, feed: Feed) -> None:
        """A feed that gave up (broker away) makes room for a fresh one."""
        if self._feeds.get(feed.channel) is feed:
            del self._feeds[feed.channel]

    def _stop(self, feed: Feed) -> None:
        if self._feeds.get(feed.channel) is feed:
            del self._feeds[feed.channel]
        task = feed.task
        if task is not None and not task.done():
            task.cancel()
            self._stopping[feed.channel] = task
            task.add_done_callback(lambda t: self._forget(feed.channel, t))

    def _forget(self, channel: str, task: asyncio.Task[None]) -> None:
        if self._stopping.get(channel) is task:
            del self._stopping[channel]

    async def probe(self) -> None:
        """Wait until the subscriptions made so far are live at the broker.

        The probe subscribes to a private channel on the same connection,
        publishes on it and waits for its own message: the broker handles a
        connection's commands in order, so the earlier subscriptions were
        live before it."""
        name = f"live-probe:{uuid.uuid4().hex}"
        async with self._pubsub.subscribe(name) as probes:
            if not await self._pubsub.publish(name, {"type": "probe"}):
                raise ServiceUnavailable(1, "The broker is unreachable.")
            async with asyncio.timeout(PROBE_TIMEOUT):
                async for _ in probes:
                    return
        raise ServiceUnavailable(1, "The broker did not confirm the subscription.")

    # --- sessions ---------------------------------------------------------------------------

    async def watch_session(self, claims: AccessClaims, on_end: OnEnd) -> SessionWatch:
        """Call ``on_end`` (once) when the token expires or the session is
        revoked; UNAUTHENTICATED now if it already has. Cancel the watch when
        the connection ends."""
        return await self.sessions.watch(claims, on_end)


async def publish(event: Event, prev_ids: Mapping[str, int]) -> None:
    """Publish a committed event on each of its channels, with that channel's
    previous id. Never raises: the row is stored, and a process that misses
    the document fills the event in from the database."""
    pubsub = runtime.get().pubsub
    for channel in event.channels():
        await pubsub.publish(channel, encode(event, prev_ids.get(channel, 0)))


async def signal(event: Event) -> None:
    """Publish a signal (an ``ephemeral`` event, never stored) on its
    channels. Never raises: a lost signal is simply not seen."""
    pubsub = runtime.get().pubsub
    for channel in event.channels():
        await pubsub.publish(channel, encode(event, 0))


_current: Live | None = None


def get() -> Live:
    if _current is None:
        raise RuntimeError("live module not started")
    return _current


async def start() -> Live:
    """Build this process's live module (after ``core.runtime.start``)."""
    global _current
    rt = runtime.get()
    live = Live(rt.pubsub, grace=float(rt.settings.broker_grace_seconds))
    await live.start()
    _current = live
    return live


async def stop() -> None:
    global _current
    live, _current = _current, None
    if live is not None:
        await live.close()
