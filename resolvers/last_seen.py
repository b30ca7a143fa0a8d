"""Last seen, kept in the database (``users.last_seen_at``).

The presence store (:mod:`core.presence_leases`) keeps last seen in Redis
or in this process's memory: the embedded store forgets it on a restart,
and Redis on a flush. So each offline transition is also written here:

- when presence announces users offline (after the grace period, or once a
  SIGKILLed process's lease ran out, by the process that swept it): one
  write per transition, never one per frame, and one UPDATE statement for
  each batch the announcer takes from its queue (``resolvers.presence``:
  whatever a sweep found, up to 500 users), so a churn of a thousand
  disconnects costs two statements, within the sweep period;
- when a process stops cleanly, for the users it kept online and for the
  transitions still queued (``resolvers.presence.stop``), so a SIGTERM
  loses none.

A write never moves the value back (a late or repeated write is a no-op).
Presence queries read it for the users the store reports offline.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from models import User
from models.fields import utc

log = logging.getLogger("comptoir.presence")

# Users per UPDATE: two parameters each, far below either driver's bound
# (SQLite 32,766, PostgreSQL 32,767); the presence announcer hands over at
# most ``resolvers.presence.ANNOUNCE_BATCH`` (500) changes at a time.
BATCH = 500


def at(ms: int) -> datetime:
    """A last-seen time of the presence store (ms since the epoch)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


async def record(gone: list[tuple[int, int]]) -> None:
    """Store ``(user id, last seen ms)`` of users who went offline: one UPDATE
    per :data:`BATCH` users (a churn of a thousand disconnects is a couple of
    statements, not a thousand)."""
    latest: dict[int, int] = {}
    for user_id, seen in gone:
        latest[user_id] = max(seen, latest.get(user_id, seen))
    pending = sorted(latest.items())
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        try:
            await _store(chunk)
        except Exception:  # presence goes on; the store still has it
            log.warning("storing last seen of %d users failed", len(chunk), exc_info=True)


async def _store(chunk: list[tuple[int, int]]) -> None:
    """One UPDATE for ``chunk``: each user's value unless the stored one is later.

    ``CASE id WHEN <id> THEN <time> ...`` with numbered parameters (``?n`` on
    SQLite, ``$n`` on PostgreSQL), each user's pair bound once; values go
    through the field's own conversion, as an ORM filter's would.
    """
    conn = User._meta.db
    field = User._meta.fields_map["last_seen_at"]
    postgres = conn.capabilities.dialect == "postgres"
    values: list[Any] = []
    whens: list[str] = []
    for user_id, seen in chunk:
        values += [user_id, field.to_db_value(at(seen), User)]
        user, when = len(values) - 1, len(values)
        whens.append(
            f"WHEN ${user} THEN ${when}::timestamptz" if postgres else f"WHEN ?{user} THEN ?{when}"
        )
    new = f'CASE "id" {" ".join(whens)} END'
    ids = ", ".join(("${}" if postgres else "?{}").format(i) for i in range(1, len(values), 2))
    await conn.execute_query(
        f'UPDATE "users" SET "last_seen_at" = {new} WHERE "id" IN ({ids}) '
        f'AND ("last_seen_at" IS NULL OR "last_seen_at" < {new})',
        values,
    )


async def stored(user_ids: list[int]) -> dict[int, datetime]:
    """The stored last seen of those of ``user_ids`` that have one."""
    if not user_ids:
        return {}
    rows: list[Any] = await User.filter(id__in=user_ids, last_seen_at__isnull=False).values_list(
        "id", "last_seen_at"
    )
    return {int(user_id): utc(when) for user_id, when in rows}
