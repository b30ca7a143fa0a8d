"""Connection caps of the real-time doors: per user (across processes) and in total.

:class:`ConnectionCaps` counts the connections of this process, per user
and in total. With Redis, :class:`SharedUserCaps` makes the per-user cap
hold across every process, and :class:`UserConnections` combines both, as
both real-time doors (the chat server in ``ws/``, GraphQL over WebSocket in
``schema/``) use them; each door has its own ``scope`` of leases and its own
settings.

Each open connection holds a *lease*: a member of the sorted set
``{prefix}:{scope}:user:{id}`` whose score is its expiry on the Redis clock.
Opening checks and takes a lease in one Lua script (atomic across
processes); closing removes it; each process renews its leases every third
of their life, so a process that dies leaves nothing behind for longer
than one lease (``LEASE_SECONDS``).

The total cap stays per process: it bounds the memory and file
descriptors of one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from enum import Enum
from typing import Any

from redis.asyncio import Redis

from core.pubsub import redis_client

log = logging.getLogger("comptoir.leases")


class Refusal(Enum):
    """Why a connection is refused for capacity."""

    USER = "user"  # this user has too many connections
    TOTAL = "total"  # the process has too many connections


class ConnectionCaps:
    """Counts open (and opening) connections of this process, per user and in total."""

    def __init__(self, *, per_user: int, total: int) -> None:
        self.per_user = per_user
        self.total = total
        self._by_user: Counter[int] = Counter()
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    def of_user(self, user_id: int) -> int:
        return self._by_user[user_id]

    def full(self) -> bool:
        return self._count >= self.total

    def acquire(self, user_id: int) -> Refusal | None:
        """Take a slot for ``user_id``, or say why not (nothing is taken then)."""
        if self._count >= self.total:
            return Refusal.TOTAL
        if self._by_user[user_id] >= self.per_user:
            return Refusal.USER
        self._by_user[user_id] += 1
        self._count += 1
        return None

    def release(self, user_id: int) -> None:
        if self._by_user[user_id] <= 0:
            return
        self._by_user[user_id] -= 1
        if not self._by_user[user_id]:
            del self._by_user[user_id]
        self._count -= 1


LEASE_SECONDS = 30

# KEYS[1]: the user's set. ARGV: cap, lease (ms), member. 1 if taken, 0 if full.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return 1
"""

# KEYS[1]: the user's set. ARGV: lease (ms), members... Renews them.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[1]))
return 0
"""


class SharedUserCaps:
    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        per_user: int,
        scope: str = "ws",
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.per_user = per_user
        self._redis: Redis = redis_client(url, timeout=2.0)
        self._prefix = f"{prefix}:{scope}:user:"
        self._lease_ms = int(lease_seconds * 1000)
        self._acquire: Any = self._redis.register_script(_ACQUIRE)
        self._renew: Any = self._redis.register_script(_RENEW)
        self._held: dict[str, int] = {}  # lease -> user id, for this process
        self._renewer: asyncio.Task[None] | None = None
        self._releases: set[asyncio.Task[None]] = set()

    def _key(self, user_id: int) -> str:
        return f"{self._prefix}{user_id}"

    def start(self) -> None:
        self._renewer = asyncio.create_task(self._renew_forever())

    async def acquire(self, user_id: int, lease: str) -> bool:
        """Take a lease for ``user_id``; False when the user is at the cap.

        If Redis does not answer, the connection is let through (the
        per-process cap still holds) rather than refusing everyone.
        """
        try:
            taken = await self._acquire(
                keys=[self._key(user_id)], args=[self.per_user, self._lease_ms, lease]
            )
        except Exception:
            log.warning("shared connection cap unavailable; per-process cap only", exc_info=True)
            return True
        if taken:
            self._held[lease] = user_id
        return bool(taken)

    def release(self, lease: str) -> None:
        user_id = self._held.pop(lease, None)
        if user_id is None:
            return
        task = asyncio.create_task(self._zrem(user_id, lease))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _zrem(self, user_id: int, *leases: str) -> None:
        try:
            await self._redis.zrem(self._key(user_id), *leases)
        except Exception:  # the lease expires on its own
            log.debug("releasing connection leases failed", exc_info=True)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            by_user: dict[int, list[str]] = {}
            for lease, user_id in list(self._held.items()):
                by_user.setdefault(user_id, []).append(lease)
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for user_id, leases in by_user.items():
                        await self._renew(
                            keys=[self._key(user_id)], args=[self._lease_ms, *leases], client=pipe
                        )
                    await pipe.execute()
            except Exception:
                log.warning("renewing connection leases failed", exc_info=True)

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.wait([self._renewer])  # a cancellation of close() is not swallowed
        by_user: dict[int, list[str]] = {}
        for lease, user_id in self._held.items():
            by_user.setdefault(user_id, []).append(lease)
        self._held.clear()
        for user_id, leases in by_user.items():
            await self._zrem(user_id, *leases)
        if self._releases:
            await asyncio.wait(self._releases, timeout=2)
        await self._redis.aclose()


class UserConnections:
    """This process's caps, plus the shared per-user cap when the broker is Redis."""

    def __init__(
        self, *, per_user: int, total: int, broadcast_url: str, prefix: str, scope: str
    ) -> None:
        self.caps = ConnectionCaps(per_user=per_user, total=total)
        self._shared: SharedUserCaps | None = None
        if broadcast_url.startswith(("redis://", "rediss://")):
            self._shared = SharedUserCaps(
                broadcast_url, prefix=prefix, per_user=per_user, scope=scope
            )

    def start(self) -> None:
        if self._shared is not None:
            self._shared.start()

    async def acquire(self, user_id: int, lease: str) -> Refusal | None:
        """Take a slot (and a shared lease); ``release(user_id, lease)`` gives both back."""
        refusal = self.caps.acquire(user_id)
        if refusal is None and self._shared is not None:
            if not await self._shared.acquire(user_id, lease):
                self.caps.release(user_id)
                refusal = Refusal.USER
        return refusal

    def release(self, user_id: int, lease: str) -> None:
        self.caps.release(user_id)
        if self._shared is not None:
            self._shared.release(lease)

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.close()
            self._shared = None
