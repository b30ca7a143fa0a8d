"""Chat history reads at 10k vs 1M stored messages, through ``resolvers.chat``.

``python -m bench.history DATABASE_URL --small 10000 --large 1000000``
prints JSON with per-call latencies (ms) of the last 50 messages of a room
(``room_messages``) and of a DM pair (``direct_messages``) at each size.

Rows are bulk-loaded with one SQL statement per table and size (a recursive
CTE on SQLite, ``generate_series`` on PostgreSQL), spread over 10 rooms and
10 DM pairs, so the measured room and pair each hold a tenth of the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import JWT_SECRET, percentile
from core import runtime
from core.settings import Settings

ROOMS = 10
USERS = 5  # 10 pairs among 5 users
PAIRS = [(a, b) for a in range(1, USERS + 1) for b in range(a + 1, USERS + 1)]


def _sqlite(url: str) -> bool:
    return url.startswith("sqlite://")


async def _execute(sql: str, values: list[Any] | None = None) -> None:
    from tortoise import Tortoise

    await Tortoise.get_connection("default").execute_query(sql, values or [])


async def setup_rows() -> None:
    from models import Role, Room, User

    await User.bulk_create(
        [
            User(
                email=f"h{i}@bench.test", password_hash="x", display_name=f"H{i}", role=Role.MEMBER
            )
            for i in range(1, USERS + 1)
        ]
    )
    await Room.bulk_create([Room(name=f"history-{i}", is_private=False) for i in range(ROOMS)])


async def grow(url: str, start: int, end: int) -> float:
    """Add rows ``start..end-1`` to both tables; return seconds spent."""
    from models import Message

    field = Message._meta.fields_map["created_at"]
    stamp = field.to_db_value(datetime.now(UTC), Message)
    # The pair of row x: PAIRS[x % 10], written as arithmetic over a VALUES table.
    pairs_sql = " UNION ALL ".join(f"SELECT {i}, {a}, {b}" for i, (a, b) in enumerate(PAIRS))
    t0 = time.perf_counter()
    if _sqlite(url):
        seq = "WITH RECURSIVE seq(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM seq WHERE x < ?) "
        await _execute(
            seq + 'INSERT INTO "messages" (content, client_id, created_at, author_id, room_id) '
            "SELECT 'message number ' || x, NULL, ?, 1 + (x % 5), 1 + (x % 10) FROM seq",
            [start, end - 1, stamp],
        )
        await _execute(
            seq + f", pairs(k, lo, hi) AS ({pairs_sql}) "
            'INSERT INTO "direct_messages" '
            "(user_low, user_high, content, client_id, created_at, recipient_id, sender_id) "
            "SELECT lo, hi, 'direct message ' || x, NULL, ?, hi, lo "
            "FROM seq JOIN pairs ON pairs.k = x % 10",
            [start, end - 1, stamp],
        )
        await _execute("ANALYZE")
    else:
        await _execute(
            'INSERT INTO "messages" (content, client_id, created_at, author_id, room_id) '
            "SELECT 'message number ' || x, NULL, $3, 1 + (x % 5), 1 + (x % 10) "
            "FROM generate_series($1::int, $2::int) AS x",
            [start, end - 1, stamp],
        )
        await _execute(
            f"WITH pairs(k, lo, hi) AS ({pairs_sql}) "
            'INSERT INTO "direct_messages" '
            "(user_low, user_high, content, client_id, created_at, recipient_id, sender_id) "
            "SELECT lo, hi, 'direct message ' || x, NULL, $3, hi, lo "
            "FROM generate_series($1::int, $2::int) AS x JOIN pairs ON pairs.k = x % 10",
            [start, end - 1, stamp],
        )
        await _execute('ANALYZE "messages"')
        await _execute('ANALYZE "direct_messages"')
    return time.perf_counter() - t0


async def measure(samples: int) -> dict[str, list[float]]:
    from models import User
    from resolvers import chat

    alice = await User.get(email="h1@bench.test")
    bob = await User.get(email="h2@bench.test")
    out: dict[str, list[float]] = {"room": [], "dm": []}
    for _ in range(max(5, samples // 10)):  # warm-up
        await chat.room_messages(actor=alice, room="history-1")
        await chat.direct_messages(actor=alice, with_user=bob.id)
    for _ in range(samples):
        t0 = time.perf_counter()
        _, page = await chat.room_messages(actor=alice, room="history-1")
        t1 = time.perf_counter()
        dms = await chat.direct_messages(actor=alice, with_user=bob.id)
        t2 = time.perf_counter()
        if len(page.items) != 50 or len(dms.items) != 50:
            raise RuntimeError(f"expected 50 rows, got {len(page.items)} and {len(dms.items)}")
        out["room"].append((t1 - t0) * 1000)
        out["dm"].append((t2 - t1) * 1000)
    return out


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p99": percentile(values, 99), "n": len(values)}


async def main(url: str, small: int, large: int, samples: int) -> dict[str, Any]:
    settings = Settings.from_env(
        {"DATABASE_URL": url, "JWT_SECRET": JWT_SECRET, "DEMO": "0", "LOG_LEVEL": "warning"}
    )
    await runtime.start(settings)
    try:
        await setup_rows()
        load_small = await grow(url, 0, small)
        at_small = await measure(samples)
        load_large = await grow(url, small, large)
        at_large = await measure(samples)
    finally:
        await runtime.stop()
    return {
        "small": small,
        "large": large,
        "load_seconds": {"small": load_small, "large": load_large},
        "room": {"small": summary(at_small["room"]), "large": summary(at_large["room"])},
        "dm": {"small": summary(at_small["dm"]), "large": summary(at_large["dm"])},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.database_url, args.small, args.large, args.samples))))
