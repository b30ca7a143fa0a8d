"""Versions of shared data, for caches that must never answer from before a write.

A *version* names the state of a body of data (the catalogue). Every
process reads it in one step; a writer holds a *lease* while its change
is in flight and *bumps* the version once the change is committed:

- ``current(name)``: the version, or None while a lease is held (a write
  is in flight: a cache must neither answer nor store);
- ``lease(name, seconds)``: taken before the write; expires by itself, so
  a writer that dies mid-write holds the version up for ``seconds`` at
  most. The reader that finds it expired bumps the version for it (the
  write may have been committed);
- ``bump(name, token)``: after commit, drops the lease and increments the
  version, in one atomic step.

``memory://`` keeps them in this process (one process: nothing to share).
With Redis they are two keys per name, read and written by Lua scripts, so
each step is atomic for every process and uses the Redis server's clock. A
Redis that restarts without its data starts a version again from its clock
in microseconds, above any version it handed out before (fewer than one
write per microsecond), so a version never repeats; the lease of a write
in flight across such a restart is lost with it (see the README,
"Response cache").
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Protocol

from redis.asyncio import Redis

from core.pubsub import BROKER_ERRORS, redis_client

__all__ = ["BROKER_ERRORS", "MemoryVersions", "RedisVersions", "Versions", "build_versions"]


class Versions(Protocol):
    async def current(self, name: str) -> int | None:
        """The version of ``name``; None while a write to it is in flight."""
        ...

    async def lease(self, name: str, seconds: float) -> str:
        """Announce a write to ``name``; the token to :meth:`bump` with."""
        ...

    async def bump(self, name: str, token: str) -> int:
        """The write of ``token`` is committed: the new version."""
        ...

    async def close(self) -> None: ...


class MemoryVersions:
    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._leases: dict[str, dict[str, float]] = {}

    async def current(self, name: str) -> int | None:
        leases = self._leases.get(name)
        if leases:
            now = time.monotonic()
            expired = [token for token, deadline in leases.items() if deadline <= now]
            for token in expired:
                del leases[token]
            if expired:
                self._versions[name] = self._versions.get(name, 0) + 1
            if leases:
                return None
        return self._versions.get(name, 0)

    async def lease(self, name: str, seconds: float) -> str:
        token = uuid.uuid4().hex
        self._leases.setdefault(name, {})[token] = time.monotonic() + seconds
        return token

    async def bump(self, name: str, token: str) -> int:
        self._leases.get(name, {}).pop(token, None)
        version = self._versions[name] = self._versions.get(name, 0) + 1
        return version

    async def close(self) -> None:
        return None


# Every script starts so. KEYS[1]: the version, KEYS[2]: the leases (a
# sorted set of tokens by deadline). A missing version starts from the
# server's clock in microseconds.
_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], t[1] .. string.format('%06d', tonumber(t[2])))
end
"""

# Returns the version as a string, or '' while a lease is held.
_CURRENT = (
    _PRELUDE
    + """if redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) > 0 then
  redis.call('INCR', KEYS[1])
end
if redis.call('ZCARD', KEYS[2]) > 0 then
  return ''
end
return redis.call('GET', KEYS[1])
"""
)

# ARGV: the token, the lease's seconds.
_LEASE = (
    _PRELUDE
    + """redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
return 1
"""
)

# ARGV: the token. Returns the new version (an integer reply).
_BUMP = (
    _PRELUDE
    + """redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('INCR', KEYS[1])
"""
)


class RedisVersions:
    """Versions shared by every process through Redis (errors: ``BROKER_ERRORS``)."""

    def __init__(self, url: str, *, prefix: str) -> None:
        self._redis: Redis = redis_client(url, timeout=2.0)
        self._prefix = f"{prefix}:versions:"
        self._current: Any = self._redis.register_script(_CURRENT)
        self._lease: Any = self._redis.register_script(_LEASE)
        self._bump: Any = self._redis.register_script(_BUMP)

    def _keys(self, name: str) -> list[str]:
        return [self._prefix + name, self._prefix + name + ":leases"]

    async def current(self, name: str) -> int | None:
        raw = await self._current(keys=self._keys(name))
        return int(raw) if raw else None

    async def lease(self, name: str, seconds: float) -> str:
        token = uuid.uuid4().hex
        await self._lease(keys=self._keys(name), args=[token, seconds])
        return token

    async def bump(self, name: str, token: str) -> int:
        return int(await self._bump(keys=self._keys(name), args=[token]))

    async def close(self) -> None:
        await self._redis.aclose()


def build_versions(broadcast_url: str, *, prefix: str) -> Versions:
    """Shared through Redis when ``broadcast_url`` names it, in memory otherwise."""
    if broadcast_url.startswith(("redis://", "rediss://")):
        return RedisVersions(broadcast_url, prefix=prefix)
    return MemoryVersions()
