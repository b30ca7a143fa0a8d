"""Last seen, kept in the database (``users.last_seen_at``).

The presence store (:mod:`core.presence_leases`) keeps last seen in Redis
or in this process's memory: the embedded store forgets it on a restart,
and Redis on a flush. So each offline transition is also written here:

- when presence announces a user offline (after the grace period, or once a
  SIGKILLed process's lease ran out, by the process that swept it): one
  write per transition, never one per frame;
- when a process stops cleanly, for the users it kept online.

A write never moves the value back (a late or repeated write is a no-op).
Presence queries read it for the users the store reports offline.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import Q

from models import User
from models.fields import utc

log = logging.getLogger("comptoir.presence")


def at(ms: int) -> datetime:
    """A last-seen time of the presence store (ms since the epoch)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


async def record(gone: list[tuple[int, int]]) -> None:
    """Store ``(user id, last seen ms)`` of users who went offline."""
    latest: dict[int, int] = {}
    for user_id, seen in gone:
        latest[user_id] = max(seen, latest.get(user_id, seen))
    for user_id, seen in latest.items():
        when = at(seen)
        try:
            await User.filter(
                Q(id=user_id) & (Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=when))
            ).update(last_seen_at=when)
        except Exception:  # presence goes on; the store still has it
            log.warning("storing last seen of user %s failed", user_id, exc_info=True)


async def stored(user_ids: list[int]) -> dict[int, datetime]:
    """The stored last seen of those of ``user_ids`` that have one."""
    if not user_ids:
        return {}
    rows: list[Any] = await User.filter(id__in=user_ids, last_seen_at__isnull=False).values_list(
        "id", "last_seen_at"
    )
    return {int(user_id): utc(when) for user_id, when in rows}
