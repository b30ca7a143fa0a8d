"""Sliding-window counters for throttling (failed logins, messages...).

The in-memory limiter counts per process; ``RedisRateLimiter`` shares the
counts between processes when Redis is configured (``BROADCAST_URL`` of
``redis://``): each key is a sorted set of event times, pruned to the window
and read and written by Lua scripts, so every step is atomic and every
process uses the Redis server's clock.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis

from core import audit
from core.pubsub import BROKER_ERRORS, redis_client

log = logging.getLogger("comptoir.ratelimit")

T = TypeVar("T")


class RateLimiter(Protocol):
    async def retry_after(self, key: str, limit: int, window: float) -> float:
        """Seconds until ``key`` may act again (0 when it may act now)."""
        ...

    async def hit(self, key: str, window: float) -> None:
        """Count one event for ``key``."""
        ...

    async def acquire(self, key: str, limit: int, window: float) -> float:
        """Check and count in one atomic step: 0 when the event was counted,
        else the seconds to wait (nothing counted). Unlike ``retry_after``
        then ``hit``, concurrent callers cannot all pass the check."""
        ...

    async def refund(self, key: str) -> None:
        """Uncount the latest event of ``key`` (an attempt counted up front
        that turned out not to count, such as a successful login)."""
        ...

    async def reset(self, key: str) -> None:
        """Forget every event of ``key``."""
        ...

    async def clear(self) -> None:
        """Forget every event of every key (tests start from nothing)."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._events: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    def _prune(self, key: str, window: float, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - window:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    async def retry_after(self, key: str, limit: int, window: float) -> float:
        now = time.monotonic()
        events = self._prune(key, window, now)
        if events is None or len(events) < limit:
            return 0.0
        return max(0.001, events[-limit] + window - now)

    async def hit(self, key: str, window: float) -> None:
        now = time.monotonic()
        events = self._prune(key, window, now)
        if events is None:
            if len(self._events) >= self._max_keys:
                # Bounded memory: drop the oldest key (dicts keep insertion order).
                self._events.pop(next(iter(self._events)))
            events = self._events[key] = deque()
        events.append(now)

    async def acquire(self, key: str, limit: int, window: float) -> float:
        # No await in between: atomic within the event loop.
        wait = await self.retry_after(key, limit, window)
        if not wait:
            await self.hit(key, window)
        else:
            audit.rate_limited(key, wait)
        return wait

    async def refund(self, key: str) -> None:
        events = self._events.get(key)
        if events:
            events.pop()
            if not events:
                del self._events[key]

    async def reset(self, key: str) -> None:
        self._events.pop(key, None)

    async def clear(self) -> None:
        self._events.clear()

    async def close(self) -> None:
        return None


# Both scripts start so: drop the events older than the window, count the rest;
# a full window waits for its oldest event to leave it.
_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local function wait_for_oldest()
  local oldest = redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')
  local wait = tonumber(oldest[2]) + window - now
  if wait < 0.001 then
    wait = 0.001
  end
  return tostring(wait)
end
"""

# KEYS[1]: the sorted set. ARGV: window (s), limit. Returns the seconds to
# wait as a string (Lua numbers would be truncated to integers).
_RETRY_AFTER = (
    _WINDOW
    + """if count < limit then
  return '0'
end
return wait_for_oldest()
"""
)

# KEYS[1]: the sorted set. ARGV: window (s), a unique member, the most
# events kept per key.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[3]) - 1)
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
return 1
"""


# KEYS[1]: the sorted set. ARGV: window (s), limit, a unique member, the
# most events kept per key. Returns the seconds to wait, '0' when counted.
_ACQUIRE = (
    _WINDOW
    + """if count >= limit then
  return wait_for_oldest()
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[4]) - 1)
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
return '0'
"""
)


class SharedCounts:
    """The sliding window of :class:`MemoryRateLimiter`, shared through Redis.

    Keys are ``{prefix}:ratelimit:{key}`` and expire one window after their
    last event, so Redis holds only live counters.
    """

    def __init__(self, url: str, *, prefix: str, max_events_per_key: int = 10_000) -> None:
        self._redis: Redis = redis_client(url, timeout=2.0)
        self._prefix = f"{prefix}:ratelimit:"
        self._max_events = max_events_per_key
        self._retry_after: Any = self._redis.register_script(_RETRY_AFTER)
        self._hit: Any = self._redis.register_script(_HIT)
        self._acquire: Any = self._redis.register_script(_ACQUIRE)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def retry_after(self, key: str, limit: int, window: float) -> float:
        wait = await self._retry_after(keys=[self._key(key)], args=[window, limit])
        return float(wait)

    async def hit(self, key: str, window: float) -> None:
        member = uuid.uuid4().hex
        await self._hit(keys=[self._key(key)], args=[window, member, self._max_events])

    async def acquire(self, key: str, limit: int, window: float) -> float:
        args = [window, limit, uuid.uuid4().hex, self._max_events]
        wait = float(await self._acquire(keys=[self._key(key)], args=args))
        if wait:
            audit.rate_limited(key, wait)
        return wait

    async def refund(self, key: str) -> None:
        await self._redis.zpopmax(self._key(key))

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._key(key))

    async def clear(self) -> None:
        batch: list[Any] = []
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self._prefix) + "*"
        async for name in self._redis.scan_iter(match=pattern, count=500):
            batch.append(name)
            if len(batch) >= 500:
                await self._redis.delete(*batch)
                batch = []
        if batch:
            await self._redis.delete(*batch)

    async def close(self) -> None:
        await self._redis.aclose()


class RedisRateLimiter:
    """Shared counts (:class:`SharedCounts`) while Redis answers; this
    process's own counts when it does not.

    During a Redis outage the limits neither fail open (no limit at all: a
    free-for-all for password guessing) nor closed (every login and message
    refused): each process enforces them on its own, so a client gets at
    most the limit once per process. The switch is logged, once each way.
    """

    def __init__(self, url: str, *, prefix: str, max_events_per_key: int = 10_000) -> None:
        self._shared = SharedCounts(url, prefix=prefix, max_events_per_key=max_events_per_key)
        self._local = MemoryRateLimiter()
        self._degraded = False

    def _down(self, exc: BaseException) -> None:
        if not self._degraded:
            self._degraded = True
            log.warning("rate limits: Redis unreachable (%s); counting per process", exc)

    def _up(self) -> None:
        if self._degraded:
            self._degraded = False
            log.warning("rate limits: Redis is back; counting across processes")

    async def _either(self, op: Callable[[RateLimiter], Awaitable[T]]) -> T:
        """``op`` on the shared counts; on this process's own while Redis is down."""
        try:
            result = await op(self._shared)
        except BROKER_ERRORS as exc:
            self._down(exc)
            return await op(self._local)
        self._up()
        return result

    async def retry_after(self, key: str, limit: int, window: float) -> float:
        return await self._either(lambda counts: counts.retry_after(key, limit, window))

    async def hit(self, key: str, window: float) -> None:
        await self._either(lambda counts: counts.hit(key, window))

    async def acquire(self, key: str, limit: int, window: float) -> float:
        return await self._either(lambda counts: counts.acquire(key, limit, window))

    async def refund(self, key: str) -> None:
        await self._either(lambda counts: counts.refund(key))

    async def reset(self, key: str) -> None:
        await self._local.reset(key)
        try:
            await self._shared.reset(key)
        except BROKER_ERRORS as exc:
            self._down(exc)

    async def clear(self) -> None:
        await self._local.clear()
        await self._shared.clear()

    async def close(self) -> None:
        await self._shared.close()
        await self._local.close()


def build_limiter(broadcast_url: str, *, prefix: str) -> RateLimiter:
    """Redis-backed when ``broadcast_url`` names Redis (per process while Redis
    is unreachable), in memory otherwise."""
    if broadcast_url.startswith(("redis://", "rediss://")):
        return RedisRateLimiter(broadcast_url, prefix=prefix)
    return MemoryRateLimiter()
