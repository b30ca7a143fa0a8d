"""Who is connected: presence leases, in this process or across processes.

Each open real-time connection (chat WS, GraphQL WS) holds a *lease*
``(user, lease id)`` with an expiry. A user is online while they hold at
least one lease. Both stores below keep the same rules:

- :meth:`connect` takes a lease; True when the user had none (came online).
- :meth:`disconnect` does not drop the lease: it shortens it to the grace
  period (``PRESENCE_GRACE_SECONDS``), so a reconnect within it finds the
  user still online and nothing is announced (no flapping).
- :meth:`sweep` (every :data:`SWEEP_SECONDS`, in every process) removes the
  expired leases and returns the users left with none: they went offline.
  Each such user is returned once, by one process (atomic in Redis).
- the open leases of this process are renewed every third of
  ``PRESENCE_LEASE_SECONDS``; a process that dies (SIGKILL) stops renewing,
  so its users go offline at most ``PRESENCE_LEASE_SECONDS`` plus one sweep
  after it died.

Last seen is the last time a user was known to be there: when a lease was
taken, renewed or given back. :meth:`local` lists the users whose presence
this process keeps, with their last seen (now, while a connection is
open), so a clean stop can store it (``resolvers.last_seen``).

Redis keys (``{prefix}:presence:``): ``leases`` (sorted set of
``user:lease`` by expiry, on the Redis clock, in ms), ``count`` (hash: user
-> leases held), ``seen`` (hash: user -> last seen, ms since the epoch),
``throttle:{key}`` (a key with a TTL).
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from redis.asyncio import Redis

from core.pubsub import redis_client

SWEEP_SECONDS = 0.5
SWEEP_BATCH = 1000

# user id -> (online, last seen in ms since the epoch, or None if never seen)
States = dict[int, tuple[bool, int | None]]


class PresenceStore(Protocol):
    async def connect(self, user_id: int, lease: str) -> bool: ...
    async def disconnect(self, user_id: int, lease: str) -> None: ...
    async def renew(self) -> list[int]: ...
    async def sweep(self) -> list[tuple[int, int]]: ...
    async def states(self, user_ids: list[int]) -> States: ...
    async def local(self) -> list[tuple[int, int]]: ...
    async def throttle(self, key: str, seconds: float) -> bool: ...
    async def clear(self) -> None: ...
    async def close(self) -> None: ...


def _now_ms() -> int:
    return int(time.time() * 1000)


class MemoryPresence:
    """One process: the leases are in this process's memory."""

    def __init__(self, *, grace_seconds: float, lease_seconds: float) -> None:
        self._grace_ms = int(grace_seconds * 1000)
        self._lease_ms = int(lease_seconds * 1000)
        self._leases: dict[str, tuple[int, int]] = {}  # member -> (user, expiry ms)
        self._held: set[str] = set()  # leases of open connections
        self._count: dict[int, int] = {}
        self._seen: dict[int, int] = {}
        self._throttle: dict[str, float] = {}

    async def connect(self, user_id: int, lease: str) -> bool:
        member = f"{user_id}:{lease}"
        now = _now_ms()
        self._seen[user_id] = now
        self._held.add(member)
        known = member in self._leases
        self._leases[member] = (user_id, now + self._lease_ms)
        if known:
            return False
        self._count[user_id] = self._count.get(user_id, 0) + 1
        return self._count[user_id] == 1

    async def disconnect(self, user_id: int, lease: str) -> None:
        member = f"{user_id}:{lease}"
        self._held.discard(member)
        if member in self._leases:
            now = _now_ms()
            self._seen[user_id] = now
            self._leases[member] = (user_id, now + self._grace_ms)

    async def renew(self) -> list[int]:
        now = _now_ms()
        back = []
        for member in list(self._held):
            user_id = int(member.partition(":")[0])
            if member not in self._leases:
                self._count[user_id] = self._count.get(user_id, 0) + 1
                if self._count[user_id] == 1:
                    back.append(user_id)
            self._leases[member] = (user_id, now + self._lease_ms)
            self._seen[user_id] = now
        return back

    async def sweep(self) -> list[tuple[int, int]]:
        now = _now_ms()
        gone = []
        for member, (user_id, expiry) in list(self._leases.items()):
            if expiry > now:
                continue
            del self._leases[member]
            left = self._count.get(user_id, 1) - 1
            if left > 0:
                self._count[user_id] = left
                continue
            self._count.pop(user_id, None)
            gone.append((user_id, self._seen.get(user_id, now)))
        cutoff = time.monotonic()
        for key, until in list(self._throttle.items()):
            if until <= cutoff:
                del self._throttle[key]
        return gone

    async def states(self, user_ids: list[int]) -> States:
        return {u: (self._count.get(u, 0) > 0, self._seen.get(u)) for u in user_ids}

    async def local(self) -> list[tuple[int, int]]:
        """Every user with a lease (they all go with this process)."""
        now = _now_ms()
        held = {int(member.partition(":")[0]) for member in self._held}
        return [
            (user_id, now if user_id in held else self._seen.get(user_id, now))
            for user_id in self._count
        ]

    async def throttle(self, key: str, seconds: float) -> bool:
        now = time.monotonic()
        if self._throttle.get(key, 0.0) > now:
            return False
        self._throttle[key] = now + seconds
        return True

    async def clear(self) -> None:
        """Forget everything (the test suite, between tests)."""
        for table in (self._leases, self._held, self._count, self._seen, self._throttle):
            table.clear()

    async def close(self) -> None:
        self._held.clear()


_CLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: leases, count, seen. ARGV: member, user, lease ms. 1: came online.
_CONNECT = (
    _CLOCK
    + """
local known = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], now)
if known then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then return 1 end
return 0
"""
)

# KEYS: leases, seen. ARGV: member, user, grace ms. Returns last seen, or 0.
_DISCONNECT = (
    _CLOCK
    + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[2], now)
  return now
end
return 0
"""
)

# KEYS: leases, count, seen. ARGV: lease ms, members... Returns users back online.
_RENEW = (
    _CLOCK
    + """
local back = {}
for i = 2, #ARGV do
  local member = ARGV[i]
  local user = string.match(member, '^(%d+):')
  local known = redis.call('ZSCORE', KEYS[1], member)
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), member)
  redis.call('HSET', KEYS[3], user, now)
  if not known and redis.call('HINCRBY', KEYS[2], user, 1) == 1 then
    table.insert(back, user)
  end
end
return back
"""
)

# KEYS: leases, count, seen. ARGV: batch. Returns user, seen, user, seen...
_SWEEP = (
    _CLOCK
    + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local gone = {}
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[1], member)
  local user = string.match(member, '^(%d+):')
  if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
    redis.call('HDEL', KEYS[2], user)
    table.insert(gone, user)
    table.insert(gone, redis.call('HGET', KEYS[3], user) or tostring(now))
  end
end
return gone
"""
)


class RedisPresence:
    """Every process: the leases are in Redis, their expiry on its clock."""

    def __init__(
        self, url: str, *, prefix: str, grace_seconds: float, lease_seconds: float
    ) -> None:
        self._redis: Redis = redis_client(url, timeout=2.0)
        base = f"{prefix}:presence:"
        self._leases, self._count, self._seen = base + "leases", base + "count", base + "seen"
        self._throttle_prefix = base + "throttle:"
        self._grace_ms = int(grace_seconds * 1000)
        self._lease_ms = int(lease_seconds * 1000)
        self._connect: Any = self._redis.register_script(_CONNECT)
        self._disconnect: Any = self._redis.register_script(_DISCONNECT)
        self._renew: Any = self._redis.register_script(_RENEW)
        self._sweep: Any = self._redis.register_script(_SWEEP)
        self._held: set[str] = set()
        # Users whose lease this process gave back within the grace: last seen.
        self._given: dict[int, int] = {}

    async def connect(self, user_id: int, lease: str) -> bool:
        member = f"{user_id}:{lease}"
        self._held.add(member)
        keys = [self._leases, self._count, self._seen]
        return bool(await self._connect(keys=keys, args=[member, user_id, self._lease_ms]))

    async def disconnect(self, user_id: int, lease: str) -> None:
        member = f"{user_id}:{lease}"
        self._held.discard(member)
        seen = await self._disconnect(
            keys=[self._leases, self._seen], args=[member, user_id, self._grace_ms]
        )
        if seen:
            self._given[user_id] = int(seen)

    async def renew(self) -> list[int]:
        if not self._held:
            return []
        keys = [self._leases, self._count, self._seen]
        back = await self._renew(keys=keys, args=[self._lease_ms, *self._held])
        return [int(u) for u in back]

    async def sweep(self) -> list[tuple[int, int]]:
        keys = [self._leases, self._count, self._seen]
        flat = await self._sweep(keys=keys, args=[SWEEP_BATCH])
        cutoff = _now_ms() - self._grace_ms
        for user_id, seen in list(self._given.items()):
            if seen < cutoff:  # expired by now: swept here or by another process
                del self._given[user_id]
        return [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def states(self, user_ids: list[int]) -> States:
        if not user_ids:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self._count, user_ids)
            pipe.hmget(self._seen, user_ids)
            counts, seen = await pipe.execute()
        return {
            u: (int(c or 0) > 0, int(s) if s is not None else None)
            for u, c, s in zip(user_ids, counts, seen, strict=True)
        }

    async def local(self) -> list[tuple[int, int]]:
        """The users of this process's open connections, and of the leases it
        gave back within the grace (when stopping, no one may be left to sweep
        them; older ones were swept by whichever process)."""
        now = _now_ms()
        held = {int(m.partition(":")[0]) for m in self._held}
        return [(u, now) for u in held] + [
            (u, seen) for u, seen in self._given.items() if u not in held
        ]

    async def throttle(self, key: str, seconds: float) -> bool:
        if seconds <= 0:
            return True
        taken = await self._redis.set(
            self._throttle_prefix + key, 1, nx=True, px=max(1, int(seconds * 1000))
        )
        return bool(taken)

    async def clear(self) -> None:
        """Forget everything (the test suite, between tests)."""
        self._held.clear()
        self._given.clear()
        throttles = [k async for k in self._redis.scan_iter(match=self._throttle_prefix + "*")]
        await self._redis.delete(self._leases, self._count, self._seen, *throttles)

    async def close(self) -> None:
        """Give this process's leases back (they then expire after the grace)."""
        for member in list(self._held):
            user, _, lease = member.partition(":")
            try:
                await self.disconnect(int(user), lease)
            except Exception:  # they expire on their own
                break
        await self._redis.aclose()


def build_store(
    broadcast_url: str, *, prefix: str, grace_seconds: float, lease_seconds: float
) -> PresenceStore:
    if broadcast_url.startswith(("redis://", "rediss://")):
        return RedisPresence(
            broadcast_url,
            prefix=prefix,
            grace_seconds=grace_seconds,
            lease_seconds=lease_seconds,
        )
    return MemoryPresence(grace_seconds=grace_seconds, lease_seconds=lease_seconds)
