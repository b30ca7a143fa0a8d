"""Publish/subscribe between processes, through broadcaster.

``memory://`` serves one process; ``redis://`` joins several. Channels are
prefixed so that several deployments (or test runs) can share one Redis.
Messages are JSON documents.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from broadcaster import Broadcast, Event
from broadcaster._backends.base import BroadcastBackend
from broadcaster._backends.redis import RedisBackend
from broadcaster._base import Subscriber


class _RedisBackend(RedisBackend):
    """broadcaster 0.3.1 wakes its listener *before* SUBSCRIBE completes; the
    listener then sees no channel, stops, and never delivers anything. Wake
    it once the subscription is in place instead."""

    async def subscribe(self, channel: str) -> None:
        await self._pubsub.subscribe(channel)
        self._ready.set()


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

    async def publish(self, name: str, payload: dict[str, Any]) -> None:
        await self._broadcast.publish(
            self.channel(name), json.dumps(payload, separators=(",", ":"))
        )

    @asynccontextmanager
    async def subscribe(self, name: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        async with self._broadcast.subscribe(self.channel(name)) as subscriber:

            async def events() -> AsyncIterator[dict[str, Any]]:
                async for event in subscriber:  # type: ignore[union-attr]
                    if event is None:  # the backend went away
                        return
                    data: dict[str, Any] = json.loads(event.message)
                    yield data

            yield events()
