"""Search over many messages, through ``resolvers.search`` (issue 15).

``python -m bench.search DATABASE_URL --rows N`` migrates a fresh database,
bulk-loads N room messages and N/10 DMs (``executemany`` of plain SQL
inserts, not the ORM; the search indexes fill through the migration's
triggers or generated column, as in production), then times searches as
one user and prints one ``RESULT`` line of latencies (ms) per query kind.

Indexing: the rows are loaded with the search index's insert triggers
(SQLite) or GIN indexes (PostgreSQL) dropped, then the migration's own
``upgrade`` runs again: it recreates them and indexes every stored row
(FTS5 ``rebuild``, ``CREATE INDEX``), as it does on a database that already
holds messages. On PostgreSQL the rows go in with ``COPY``.

The text: words of a 20,000-word vocabulary drawn with Zipf weights
(rank r has weight 1/r), 6 to 14 per message, so the commonest word is in
about half of the messages and a median-rank word in about a hundred. The
rooms: 100 public and 20 private; the searcher belongs to 10 public and 5
private ones, so every room search checks the read rule on each match.

Query kinds (each drawn again for every sample, from a fixed seed):
- ``word``: one word of uniformly random rank (what people look up:
  names, specific terms);
- ``two``: two such words, and a quoted phrase of two consecutive words
  taken from a stored message, alternately;
- ``filtered``: a ``word`` in one room, or by one author, alternately;
- ``common``: one of the 20 commonest words (in 10–50% of all messages:
  the worst case, where ranking reads every match).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import random
import time
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from types import ModuleType
from typing import Any

from bench.common import JWT_SECRET, ROOT, seed_members
from core import runtime
from core.settings import Settings

VOCABULARY = 20_000
PUBLIC_ROOMS, PRIVATE_ROOMS = 100, 20
USERS = 50
CHUNK = 5_000
KINDS = ("word", "two", "filtered", "common")
MESSAGE_COLUMNS = ["content", "created_at", "author_id", "room_id", "deleted", "mentions"]
DM_COLUMNS = [
    "content",
    "created_at",
    "sender_id",
    "recipient_id",
    "user_low",
    "user_high",
    "deleted",
]
SQLITE_UNINDEX = """
DROP TRIGGER IF EXISTS "messages_fts_insert";
DROP TRIGGER IF EXISTS "direct_messages_fts_insert";
"""
POSTGRES_UNINDEX = """
DROP INDEX IF EXISTS "messages_search";
DROP INDEX IF EXISTS "direct_messages_search";
"""


def word(rank: int) -> str:
    """A pronounceable pseudo-word, unique per rank."""
    syllables = "ka lo mi ne ru sa ti vo ze pa be do fu gi ha ju".split()
    out, n = [], rank
    while True:
        out.append(syllables[n % 16])
        n //= 16
        if n == 0:
            break
    return "".join(out)


WORDS = [word(r) for r in range(VOCABULARY)]
CUM_WEIGHTS = list(accumulate(1 / (r + 1) for r in range(VOCABULARY)))


def texts(rng: random.Random, count: int) -> list[str]:
    lengths = [rng.randint(6, 14) for _ in range(count)]
    flat = rng.choices(WORDS, cum_weights=CUM_WEIGHTS, k=sum(lengths))
    out, at = [], 0
    for n in lengths:
        out.append(" ".join(flat[at : at + n]))
        at += n
    return out


async def _conn() -> Any:
    from tortoise import Tortoise

    return Tortoise.get_connection("default")


def _migration() -> ModuleType:
    (path,) = (ROOT / "migrations" / "models").glob("4_*_message_search.py")
    spec = importlib.util.spec_from_file_location("message_search", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _insert(conn: Any, table: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Plain SQL inserts: COPY on PostgreSQL, executemany on SQLite."""
    if conn.capabilities.dialect == "postgres":
        async with conn.acquire_connection() as raw:
            await raw.copy_records_to_table(table, records=rows, columns=columns)
        return
    marks = ", ".join("?" * len(columns))
    await conn.execute_many(f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})', rows)


def _marks(postgres: bool, n: int) -> str:
    return ", ".join(f"${i}" for i in range(1, n + 1)) if postgres else ", ".join("?" * n)


async def load(rows: int) -> dict[str, Any]:
    """Users, rooms, memberships, ``rows`` messages and ``rows // 10`` DMs."""
    from models import Message, Room, User

    conn = await _conn()
    pg = conn.capabilities.dialect == "postgres"
    await seed_members("s", USERS)
    total = PUBLIC_ROOMS + PRIVATE_ROOMS
    await Room.bulk_create(
        [
            Room(name=f"search-{i}", name_key=f"search-{i}", is_private=i >= PUBLIC_ROOMS)
            for i in range(total)
        ]
    )
    searcher = await User.get(email="s1@bench.test")
    mine = [*range(1, 11), *range(PUBLIC_ROOMS + 1, PUBLIC_ROOMS + 6)]
    stamp_of = Message._meta.fields_map["created_at"].to_db_value
    now = datetime.now(UTC)
    await conn.execute_many(
        f'INSERT INTO "memberships" (room_id, user_id, created_at) VALUES ({_marks(pg, 3)})',
        [[room, searcher.id, stamp_of(now, Message)] for room in mine],
    )
    rng = random.Random(15)
    t0 = time.perf_counter()
    unindexed = POSTGRES_UNINDEX if pg else SQLITE_UNINDEX
    await conn.execute_script(unindexed)
    false: Any = False if pg else 0
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        stamp = stamp_of(now - timedelta(seconds=rows - start), Message)  # one per chunk
        values = [
            [
                text,
                stamp,
                1 + (start + i) % USERS,
                1 + (start + i) % total,
                false,
                "",
            ]
            for i, text in enumerate(texts(rng, n))
        ]
        await _insert(conn, "messages", MESSAGE_COLUMNS, values)
    dms = rows // 10
    for start in range(0, dms, CHUNK):
        n = min(CHUNK, dms - start)
        stamp = stamp_of(now - timedelta(seconds=dms - start), Message)
        values = []
        for i, text in enumerate(texts(rng, n)):
            a, b = 1 + (start + i) % USERS, 1 + (start + i * 7 + 1) % USERS
            b = b if b != a else 1 + b % USERS
            values.append([text, stamp, a, b, min(a, b), max(a, b), false])
        await _insert(conn, "direct_messages", DM_COLUMNS, values)
    loaded = time.perf_counter() - t0
    await conn.execute_script(await _migration().upgrade(conn))
    indexed = time.perf_counter() - t0 - loaded
    await conn.execute_script("ANALYZE")
    return {
        "rows": rows,
        "dms": dms,
        "load_seconds": round(loaded, 1),
        "index_seconds": round(indexed, 1),
    }


async def measure(samples: int, seed: int) -> dict[str, list[float]]:
    from models import Message, User
    from resolvers import search

    rng = random.Random(seed)
    searcher = await User.get(email="s1@bench.test")
    phrases = [m.content for m in await Message.filter(id__lte=2000).only("id", "content")]
    out: dict[str, list[float]] = {k: [] for k in KINDS}
    hits: dict[str, int] = dict.fromkeys(KINDS, 0)
    for i in range(samples):
        for kind in KINDS:
            args: dict[str, Any] = {}
            if kind == "word":
                args["query"] = rng.choice(WORDS)
            elif kind == "two" and i % 2 == 0:
                args["query"] = f"{rng.choice(WORDS)} {rng.choice(WORDS[:2000])}"
            elif kind == "two":
                words = rng.choice(phrases).split()
                at = rng.randrange(len(words) - 1)
                args["query"] = f'"{words[at]} {words[at + 1]}"'
            elif kind == "filtered":
                args["query"] = rng.choice(WORDS[:5000])
                if i % 2:
                    args["room"] = "search-3"
                else:
                    args["author"] = 1 + rng.randrange(USERS)
            else:
                args["query"] = WORDS[rng.randrange(20)]
            t0 = time.perf_counter()
            page = await search.search_messages(actor=searcher, **args)
            out[kind].append((time.perf_counter() - t0) * 1000)
            hits[kind] += len(page.hits)
    if hits["common"] == 0 or hits["word"] == 0:
        raise RuntimeError(f"searches found nothing: {hits}")
    return out


async def serve(url: str, rows: int, samples: int) -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": url, "JWT_SECRET": JWT_SECRET, "DEMO": "0", "LOG_LEVEL": "warning"}
    )
    await runtime.start(settings)
    try:
        ready = await load(rows)
        await measure(10, seed=1)  # warm-up
        result = await measure(samples, seed=2)
        print("RESULT " + json.dumps({**ready, "latencies": result}), flush=True)
    finally:
        await runtime.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(serve(args.database_url, args.rows, args.samples))
