"""Per-key budgets: how a resolver spends one unit of a rate limit.

The numbers are settings (``core.settings``: ``*_PER_WINDOW``,
``*_WINDOW_SECONDS``); the limiter is the runtime's (memory or Redis, so a
budget holds across processes). A spent budget is RATE_LIMITED with the
wait until the window frees a unit (``core.errors.RateLimited``).
"""

from __future__ import annotations

from core import runtime
from core.errors import RateLimited


async def spend(key: str, per_window: int, window_seconds: float, message: str) -> None:
    """One unit of ``key``'s budget of ``per_window`` a ``window_seconds``,
    or RATE_LIMITED with ``message`` when none is left."""
    wait = await runtime.get().limiter.acquire(key, per_window, float(window_seconds))
    if wait > 0:
        raise RateLimited(wait, message)
