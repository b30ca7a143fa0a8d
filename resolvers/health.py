"""Readiness of the service."""

from __future__ import annotations

import asyncio

from core import db, runtime

PING_TIMEOUT = 2.0


async def database_ok() -> bool:
    try:
        return await asyncio.wait_for(db.ping(), PING_TIMEOUT)
    except TimeoutError:
        return False


async def broker_ok() -> bool:
    try:
        return await asyncio.wait_for(runtime.get().pubsub.ping(), PING_TIMEOUT)
    except TimeoutError:
        return False


async def readiness() -> dict[str, bool]:
    """What a ready process needs: its database and its pub/sub broker."""
    database, broker = await asyncio.gather(database_ok(), broker_ok())
    return {"database": database, "broker": broker}
