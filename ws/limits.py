"""Per-process limits of the chat server: connection caps and frame rate.

Both are plain bookkeeping with no I/O; the server consults them in the
handshake (caps) and before handling each frame (rate).
"""

from __future__ import annotations

import math
from collections import Counter
from enum import Enum


class Refusal(Enum):
    """Why a handshake is refused for capacity."""

    USER = "user"  # HTTP 429: this user has too many connections
    TOTAL = "total"  # HTTP 503: the process has too many connections


class ConnectionCaps:
    """Counts open (and opening) connections, per user and in total."""

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


class TokenBucket:
    """``rate`` frames per second on average, bursts of up to ``burst``."""

    __slots__ = ("burst", "rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = now

    def take(self, now: float) -> float:
        """Spend one token: 0.0 if there was one, else the seconds to wait."""
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    @staticmethod
    def retry_after_ms(wait: float) -> int:
        return max(1, math.ceil(wait * 1000))
