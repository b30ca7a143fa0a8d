"""Publish/subscribe between processes, through broadcaster.

``memory://`` serves one process; ``redis://`` joins several. Channels are
prefixed so that several deployments (or test runs) can share one Redis.
Messages are JSON documents.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from broadcaster import Broadcast, Event
from broadcaster._backends.base import BroadcastBackend
from broadcaster._base import Subscriber
from redis.asyncio import Redis
from redis.asyncio.client import PubSub as PubSubConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from core import metrics

log = logging.getLogger("comptoir.pubsub")

# Broker errors: the connection is gone, or the server refused a command.
BROKER_ERRORS = (RedisError, OSError, asyncio.TimeoutError)
# Each document carries its publication time, for comptoir_pubsub_lag_seconds.
SENT_AT = "_sent_at"


def redis_client(url: str, *, timeout: float | None = 5.0, retries: int = 1) -> Redis:
    """A Redis client that fails fast.

    - ``driver_info=None``: no ``CLIENT SETINFO`` on connect. redis-py 8 sends
      it on every (re)connection and Redis 7.0 rejects it ("unknown
      subcommand 'SETINFO'"), which broke every reconnection.
    - ``retries``: one immediate retry on a fresh connection (a pooled one
      left over from before a broker restart fails once); then the error
      goes to the caller (the live module, the rate limiter's fallback).
      The pub/sub reader takes none: a silent resubscription would hide a gap.
    - ``timeout``: per command (None for a pub/sub reader, which waits).
    """
    return Redis.from_url(
        url,
        driver_info=None,
        retry=Retry(NoBackoff(), retries),
        socket_connect_timeout=2.0,
        socket_timeout=timeout,
        socket_keepalive=True,
    )


class _RedisBackend(BroadcastBackend):
    """broadcaster 0.3.1's Redis backend, made to survive the broker.

    - A subscription is handed out once SUBSCRIBE is sent (0.3.1 woke its
      listener before, which then saw no channel and stopped for good).
    - When the pub/sub connection drops, 0.3.1's listener died silently and
      every subscriber waited forever. Here the connection is dropped, and
      ``None`` is queued: :class:`_Broadcast` then ends every subscription,
      and its owner (the live module) subscribes again, on a new connection.
    """

    def __init__(self, url: str) -> None:
        self._conn = redis_client(url)
        self._reader = redis_client(url, timeout=None, retries=0)
        self._pubsub: PubSubConnection | None = None
        self._listener: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        await self._conn.ping()

    async def disconnect(self) -> None:
        if self._pubsub is not None:
            await self._lose(self._pubsub, signal=False)
        await self._conn.aclose()
        await self._reader.aclose()

    async def subscribe(self, channel: str) -> None:
        # One (un)subscription at a time: redis-py's PubSub takes a pooled
        # connection on first use, and two concurrent first uses each take
        # one; the subscriptions sent on the one it does not keep are lost.
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None:
                pubsub = self._pubsub = self._reader.pubsub()
            try:
                await pubsub.subscribe(channel)
            except BaseException:
                await self._lose(pubsub)
                raise
            if self._listener is None or self._listener.done():
                self._listener = asyncio.create_task(self._listen(pubsub), name="redis pub/sub")

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None:
                return
            try:
                await pubsub.unsubscribe(channel)
            except BROKER_ERRORS:
                await self._lose(pubsub)

    async def publish(self, channel: str, message: Any) -> None:
        await self._conn.publish(channel, message)

    async def ping(self) -> bool:
        try:
            return bool(await self._conn.ping())
        except BROKER_ERRORS:
            return False

    async def next_published(self) -> Event:
        # None (connection lost) is handled by _Broadcast._listener.
        return await self._queue.get()  # type: ignore[return-value]

    async def _listen(self, pubsub: PubSubConnection) -> None:
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message is not None and message["type"] == "message":
                    self._queue.put_nowait(
                        Event(channel=message["channel"].decode(), message=message["data"].decode())
                    )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("pub/sub connection lost: %s", exc)
        if self._listener is asyncio.current_task():
            self._listener = None
        await self._lose(pubsub)

    async def _lose(self, pubsub: PubSubConnection, *, signal: bool = True) -> None:
        """Drop ``pubsub`` (once): its subscriptions end, see :class:`_Broadcast`."""
        if self._pubsub is not pubsub:
            return
        self._pubsub = None
        listener, self._listener = self._listener, None
        if listener is not None and listener is not asyncio.current_task():
            listener.cancel()
        if signal:
            self._queue.put_nowait(None)
        try:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
        except Exception:  # already broken
            log.debug("closing a lost pub/sub connection failed", exc_info=True)


def _backend(url: str) -> BroadcastBackend | None:
    return _RedisBackend(url) if url.startswith(("redis://", "rediss://")) else None


class _Broadcast(Broadcast):
    """broadcaster 0.3.1 registers a channel's first subscriber only after the
    backend's SUBSCRIBE returns: two concurrent first subscribers of a channel
    overwrite each other (one never receives anything; its exit raises
    KeyError). Here the backend (un)subscribes under a per-channel lock, and
    a subscriber is only handed out once the backend subscription is in place.
    """

    def __init__(self, url: str | None = None, *, backend: BroadcastBackend | None = None) -> None:
        super().__init__(url, backend=backend)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def _listener(self) -> None:
        while True:
            event: Event | None = await self._backend.next_published()
            if event is None:  # the connection dropped: every subscription ended
                lost, self._subscribers = self._subscribers, {}
                for queues in lost.values():
                    for queue in queues:
                        queue.put_nowait(None)
                continue
            for queue in list(self._subscribers.get(event.channel, ())):
                queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscriber]:
        lock = self._locks.get(channel)
        if lock is None:
            lock = self._locks[channel] = asyncio.Lock()
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        async with lock:
            if not self._subscribers.get(channel):
                await self._backend.subscribe(channel)
                self._subscribers[channel] = set()
            self._subscribers[channel].add(queue)
        try:
            yield Subscriber(queue)
        finally:
            queues = self._subscribers.get(channel)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._subscribers[channel]
            if channel not in self._subscribers:
                async with lock:
                    if channel not in self._subscribers:
                        await self._backend.unsubscribe(channel)
            await queue.put(None)


class PubSub:
    def __init__(self, url: str, *, prefix: str = "comptoir") -> None:
        self.url = url
        self.prefix = prefix
        backend = _backend(url)
        self._broadcast = _Broadcast(url) if backend is None else _Broadcast(backend=backend)

    def channel(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    async def connect(self) -> None:
        await self._broadcast.connect()

    async def disconnect(self) -> None:
        await self._broadcast.disconnect()

    async def ping(self) -> bool:
        """Whether the broker answers (always, in memory)."""
        backend = self._broadcast._backend
        return await backend.ping() if isinstance(backend, _RedisBackend) else True

    async def publish(self, name: str, payload: dict[str, Any]) -> bool:
        """Publish; False (logged, not raised) when the broker is unreachable.

        Publishers store first and publish second, so a lost publish is
        filled in by the subscribers from the database (see resolvers.live).
        """
        try:
            document = {**payload, SENT_AT: time.time()}
            await self._broadcast.publish(
                self.channel(name), json.dumps(document, separators=(",", ":"))
            )
        except BROKER_ERRORS as exc:
            log.warning("publish on %s failed: %s", name, exc)
            return False
        return True

    @asynccontextmanager
    async def subscribe(self, name: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        async with self._broadcast.subscribe(self.channel(name)) as subscriber:

            async def events() -> AsyncIterator[dict[str, Any]]:
                async for event in subscriber:  # type: ignore[union-attr]
                    if event is None:  # the backend went away
                        return
                    data: dict[str, Any] = json.loads(event.message)
                    sent = data.pop(SENT_AT, None)
                    if isinstance(sent, int | float):
                        # Delivery follows at once (resolvers.live emits synchronously).
                        metrics.PUBSUB_LAG.observe(max(0.0, time.time() - sent))
                    yield data

            yield events()
