"""Sliding-window counters for throttling (failed logins, messages...).

The in-memory limiter counts per process; ``RedisRateLimiter`` shares the
counts between processes when Redis is configured.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol


class RateLimiter(Protocol):
    async def retry_after(self, key: str, limit: int, window: float) -> float:
        """Seconds until ``key`` may act again (0 when it may act now)."""
        ...

    async def hit(self, key: str, window: float) -> None:
        """Count one event for ``key``."""
        ...

    async def reset(self, key: str) -> None: ...


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

    async def reset(self, key: str) -> None:
        self._events.pop(key, None)
