"""Per-process limits of the chat server: frame rate (connection caps are
shared with GraphQL over WebSocket, in :mod:`core.leases`).

Plain bookkeeping with no I/O; the server consults it before handling each
frame.
"""

from __future__ import annotations

from core.errors import retry_after_ms


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

    # The wait :meth:`take` returns, as the error frame tells it.
    retry_after_ms = staticmethod(retry_after_ms)
