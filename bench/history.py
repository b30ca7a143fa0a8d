"""Chat history reads at 10k vs 1M stored messages, through ``resolvers.messages``.

``python -m bench.history DATABASE_URL --rows N`` loads N messages and N
DMs, prints ``READY``, then answers each ``go K`` line on its input with the
latencies (ms) of K reads of the last 50 messages of a room
(``room_messages``) and of a DM pair (``direct_messages``). The bench runs
one such process at 10k rows and one at 1M, and alternates between them,
so that both sizes see the same machine.

Rows are bulk-loaded with one SQL statement per table and size (a recursive
CTE on SQLite, ``generate_series`` on PostgreSQL), spread over 10 rooms and
10 DM pairs, so the measured room and pair each hold a tenth of the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import JWT_SECRET, seed_members
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
    from models import Room

    await seed_members("h", USERS)
    await Room.bulk_create(
        [Room(name=f"history-{i}", name_key=f"history-{i}", is_private=False) for i in range(ROOMS)]
    )


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


RICH_ROOM = 2  # "history-1": rows with x % 10 == 1


async def decorate(url: str) -> None:
    """Every message of the measured room replies to the one before it, carries
    an attachment and two reactions (issue 14): those tables grow with the
    messages (a tenth of them each)."""
    from models import Message

    stamp = Message._meta.fields_map["created_at"].to_db_value(datetime.now(UTC), Message)
    p = "?" if _sqlite(url) else "$1"
    await _execute(
        'INSERT INTO "files" (owner_id, filename, content_type, size, sha256, storage_key, '
        f"created_at) VALUES (1, 'plan.txt', 'text/plain', 8, 'x', 'bench-key', {p})",
        [stamp],
    )
    for user, reaction in ((1, "👍"), (2, ":tada:")):
        await _execute(
            'INSERT INTO "reactions" (message_id, dm_id, user_id, reaction, created_at) '
            f"SELECT id, NULL, {user}, '{reaction}', {p} FROM \"messages\" "
            f"WHERE room_id = {RICH_ROOM}",
            [stamp],
        )
    await _execute(
        'INSERT INTO "attachments" (message_id, dm_id, position, file_id) '
        f'SELECT id, NULL, 0, 1 FROM "messages" WHERE room_id = {RICH_ROOM}'
    )
    await _execute(
        f'UPDATE "messages" SET reply_to_id = id - 10 WHERE room_id = {RICH_ROOM} AND id > 10'
    )
    await _execute("ANALYZE")


async def rich_page(alice: Any) -> int:
    """The last 50 of the room as REST and WS history read them: messages,
    their reactions (as alice sees them), replies' originals, attachments."""
    from resolvers import attachments, messages, reactions, replies

    _, page = await messages.room_messages(actor=alice, room="history-1")
    ids = [m.id for m in page.items]
    counts = await reactions.summaries(viewer_id=alice.id, ids=ids)
    originals = await replies.of_rows(page.items)
    files = await attachments.of_messages(ids)
    if not (len(counts) == 50 and len(originals) >= 49 and all(files.values())):
        raise RuntimeError("the rich page lacks its reactions, replies or attachments")
    return len(ids)


async def measure(samples: int) -> dict[str, list[float]]:
    from models import User
    from resolvers import direct_messages, messages

    alice = await User.get(email="h1@bench.test")
    bob = await User.get(email="h2@bench.test")
    out: dict[str, list[float]] = {"room": [], "dm": [], "rich": []}
    for _ in range(samples):
        t0 = time.perf_counter()
        await rich_page(alice)
        out["rich"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        _, page = await messages.room_messages(actor=alice, room="history-1")
        t1 = time.perf_counter()
        dms = await direct_messages.direct_messages(actor=alice, with_user=bob.id)
        t2 = time.perf_counter()
        if len(page.items) != 50 or len(dms.items) != 50:
            raise RuntimeError(f"expected 50 rows, got {len(page.items)} and {len(dms.items)}")
        out["room"].append((t1 - t0) * 1000)
        out["dm"].append((t2 - t1) * 1000)
    return out


async def serve(url: str, rows: int) -> None:
    """Load ``rows`` messages and DMs, say ``READY``, then answer ``go N``
    lines with N timed reads of each kind, until ``quit`` or end of input."""
    settings = Settings.from_env(
        {"DATABASE_URL": url, "JWT_SECRET": JWT_SECRET, "DEMO": "0", "LOG_LEVEL": "warning"}
    )
    await runtime.start(settings)
    try:
        await setup_rows()
        loaded = await grow(url, 0, rows)
        await decorate(url)
        await measure(20)  # warm-up
        print("READY " + json.dumps({"rows": rows, "load_seconds": loaded}), flush=True)
        for _ in range(10_000):
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line or line.strip() == "quit":
                break
            count = int(line.split()[1])
            print("RESULT " + json.dumps(await measure(count)), flush=True)
    finally:
        await runtime.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--rows", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.database_url, args.rows))
