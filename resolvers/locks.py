"""Per-key locks within one process: a send and its publish, in order.

A room message takes its room channel's lock; a direct message both
parties' user channel locks; a change or a mention the same locks as the
send it changes (:mod:`resolvers.message_changes`, :mod:`resolvers.mentions`).
Across processes the row locks of the transaction order ids; these locks
only keep gap fills rare (:mod:`resolvers.live`). A key's lock lives as
long as someone holds or waits for it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager

_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _lock(key: str) -> asyncio.Lock:
    lock = _locks.get(key)
    if lock is None:
        lock = _locks[key] = asyncio.Lock()
    return lock


@asynccontextmanager
async def locked(keys: Iterable[str]) -> AsyncIterator[None]:
    """Hold the locks of ``keys`` (taken in sorted order: no deadlock)."""
    async with AsyncExitStack() as stack:
        for key in sorted(set(keys)):
            await stack.enter_async_context(_lock(key))
        yield
