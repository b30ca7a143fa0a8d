"""Publish/subscribe between processes, through broadcaster.

``memory://`` serves one process; ``redis://`` joins several. Channels are
prefixed so that several deployments (or test runs) can share one Redis.
Messages are JSON documents.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from broadcaster import Broadcast
from broadcaster._backends.base import BroadcastBackend
from broadcaster._backends.redis import RedisBackend


class _RedisBackend(RedisBackend):
    """broadcaster 0.3.1 wakes its listener *before* SUBSCRIBE completes; the
    listener then sees no channel, stops, and never delivers anything. Wake
    it once the subscription is in place instead."""

    async def subscribe(self, channel: str) -> None:
        await self._pubsub.subscribe(channel)
        self._ready.set()


def _backend(url: str) -> BroadcastBackend | None:
    return _RedisBackend(url) if url.startswith(("redis://", "rediss://")) else None


class PubSub:
    def __init__(self, url: str, *, prefix: str = "comptoir") -> None:
        self.url = url
        self.prefix = prefix
        backend = _backend(url)
        self._broadcast = Broadcast(url) if backend is None else Broadcast(backend=backend)

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
