"""Per-process fan-out from pub/sub channels to local WebSocket connections.

A channel (``room:{id}``, ``user:{id}``) is subscribed once per process,
while at least one local connection listens to it, and unsubscribed when
the last one leaves. Each event is JSON-encoded once and written to every
listening connection with :func:`websockets.asyncio.server.broadcast`,
which never waits for a slow connection: each member decides, before the
write, whether it takes the event now (see :meth:`Member.accept`).

A subscription is *ready* once it is known to be live at the broker: the
hub then subscribes to a private probe channel on the same pub/sub
connection, publishes on it and waits for its own probe. Redis handles one
connection's commands in order, so when the probe comes back the channel's
subscription was live before it, and every event published from then on
will arrive. Joining a room with replay relies on this: events are
registered for first, history is read second, and nothing falls between.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection, broadcast

from core.pubsub import PubSub
from ws import frames

log = logging.getLogger("comptoir.ws")

PROBE_TIMEOUT = 5.0
# Event types forwarded to clients; anything else on a channel is ignored.
FORWARDED = frozenset({"message", "dm"})


class FeedUnavailable(Exception):
    """The channel's subscription could not be made or was torn down."""


class Member(Protocol):
    """A local connection listening to channels."""

    @property
    def connection(self) -> ServerConnection: ...

    def accept(self, channel: str, event_id: int, payload: bytes) -> bool:
        """Whether to write ``payload`` to :attr:`connection` now.

        False when the member buffers it (replay in progress), has already
        sent it, is closing, or is too far behind (it then closes itself).
        Must not block and must not change the hub's membership.
        """
        ...

    def feed_lost(self) -> None:
        """The channel's subscription ended for good (the broker went away)."""
        ...


class Topic:
    __slots__ = ("channel", "members", "ready", "task")

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.members: set[Member] = set()
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None


class Hub:
    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub
        self._topics: dict[str, Topic] = {}
        # Subscriptions being torn down; a new one for the same channel
        # starts only once the old one is gone.
        self._stopping: dict[str, asyncio.Task[None]] = {}
        self.delivered = 0

    @property
    def channels(self) -> frozenset[str]:
        return frozenset(self._topics)

    def members(self, channel: str) -> int:
        topic = self._topics.get(channel)
        return len(topic.members) if topic else 0

    async def attach(self, channel: str, member: Member) -> None:
        """Listen to ``channel``; returns once events published from now on
        reach ``member``. Pair every call with :meth:`detach`, even when
        this one raises or is cancelled."""
        topic = self._topics.get(channel)
        if topic is None:
            topic = self._topics[channel] = Topic(channel)
            topic.task = asyncio.create_task(
                self._run(topic, self._stopping.get(channel)), name=f"ws-hub {channel}"
            )
        topic.members.add(member)
        await asyncio.wait([topic.ready])
        if topic.ready.cancelled():
            raise FeedUnavailable(channel)
        topic.ready.result()

    def detach(self, channel: str, member: Member) -> None:
        topic = self._topics.get(channel)
        if topic is None:
            return
        topic.members.discard(member)
        if not topic.members:
            self._stop(topic)

    def detach_all(self, channels: Iterable[str], member: Member) -> None:
        for channel in list(channels):
            self.detach(channel, member)

    def _stop(self, topic: Topic) -> None:
        if self._topics.get(topic.channel) is topic:
            del self._topics[topic.channel]
        task = topic.task
        if task is not None and not task.done():
            task.cancel()
            self._stopping[topic.channel] = task
            task.add_done_callback(lambda t: self._forget(topic.channel, t))

    def _forget(self, channel: str, task: asyncio.Task[None]) -> None:
        if self._stopping.get(channel) is task:
            del self._stopping[channel]

    async def close(self) -> None:
        topics = list(self._topics.values())
        for topic in topics:
            self._stop(topic)
        tasks = [t for t in self._stopping.values() if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def _run(self, topic: Topic, previous: asyncio.Task[None] | None) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            async with self._pubsub.subscribe(topic.channel) as events:
                await self.probe()
                if not topic.ready.done():
                    topic.ready.set_result(None)
                async for event in events:
                    self._deliver(topic, event)
        except asyncio.CancelledError:
            if not topic.ready.done():
                topic.ready.cancel()
            raise
        except Exception as exc:
            log.exception("subscription to %s failed", topic.channel)
            if not topic.ready.done():
                topic.ready.set_exception(exc)
        # The broker went away: these members will get nothing more.
        if self._topics.get(topic.channel) is topic:
            del self._topics[topic.channel]
        for member in list(topic.members):
            member.feed_lost()

    async def probe(self) -> None:
        """Wait until the subscriptions made so far are live at the broker."""
        name = f"ws-probe:{uuid.uuid4().hex}"
        try:
            async with self._pubsub.subscribe(name) as probes:
                await self._pubsub.publish(name, {"type": "probe"})
                async with asyncio.timeout(PROBE_TIMEOUT):
                    async for _ in probes:
                        return
        except TimeoutError:
            log.warning("pub/sub probe timed out; going on without confirmation")

    def _deliver(self, topic: Topic, event: dict[str, Any]) -> None:
        event_id = event.get("id")
        if event.get("type") not in FORWARDED or not isinstance(event_id, int):
            return
        payload = frames.encode(event)  # once per process, not once per recipient
        channel = topic.channel
        targets = [m.connection for m in topic.members if m.accept(channel, event_id, payload)]
        if targets:
            broadcast(targets, payload, text=True)
            self.delivered += len(targets)
