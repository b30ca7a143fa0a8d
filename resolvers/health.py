"""Readiness of the service."""

from __future__ import annotations

import asyncio

from core import db

PING_TIMEOUT = 2.0


async def database_ok() -> bool:
    try:
        return await asyncio.wait_for(db.ping(), PING_TIMEOUT)
    except TimeoutError:
        return False
