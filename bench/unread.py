"""Unread counts of a user in 500 rooms vs a user in 5, rooms of 10k messages.

``python -m bench.unread DATABASE_URL --rooms R --per-room N`` loads R rooms
of N messages each (interleaved, as real traffic is) and three users:

- ``wide``, in all R rooms, and ``narrow``, in the first 5: each has read
  every room to its end but one room in 5 (:data:`UNREAD` messages after
  the marker there) -- a user who keeps up;
- ``behind``, in all R rooms, with :data:`UNREAD` unread in every room.

Then :func:`unread_lines` starts a Comptoir server on that database and
times ``GET /chat/unread`` (the door a client calls: auth, the two grouped
queries, JSON), alternating users within each round. Rows are bulk-loaded
with one SQL statement per table (a recursive CTE on SQLite,
``generate_series`` on PostgreSQL), into a scratch database without the
full-text search index (unread counts never read it; keeping it in step
with 5M messages took most of the time budget).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import httpx

from bench.common import JWT_SECRET, PASSWORD, ROOT, log, percentile, start_comptoir
from bench.report import Line
from core import runtime
from core.settings import Settings

UNREAD = 10
NARROW_ROOMS = 5
USERS = ("wide", "narrow", "behind")


async def _execute(sql: str, values: list[Any] | None = None) -> None:
    from tortoise import Tortoise

    await Tortoise.get_connection("default").execute_query(sql, values or [])


def _marks(url: str, count: int) -> list[str]:
    return ["?"] * count if url.startswith("sqlite://") else [f"${i}" for i in range(1, count + 1)]


async def load(url: str, rooms: int, per_room: int) -> float:
    from models import Membership, Message, Room
    from resolvers import users

    t0 = time.perf_counter()
    people = {
        n: await users.create_user(email=f"{n}@bench.test", password=PASSWORD, display_name=n)
        for n in (*USERS, "author")
    }
    await Room.bulk_create(
        [Room(name=f"unread-{i}", name_key=f"unread-{i}", is_private=False) for i in range(rooms)],
        batch_size=1000,
    )
    ids = sorted(r.id for r in await Room.all().only("id"))
    rooms_of = {"wide": ids, "narrow": ids[:NARROW_ROOMS], "behind": ids}
    await Membership.bulk_create(
        [Membership(room_id=r, user_id=people[n].id) for n in USERS for r in rooms_of[n]],
        batch_size=1000,
    )
    # Unread counts never read the full-text search index; keeping it in step
    # with 5M bulk-loaded messages (FTS5 triggers, a GIN index) took most of
    # the bench's time budget, so this scratch database goes without.
    if url.startswith("sqlite://"):
        for trigger in ("insert", "update", "delete"):
            await _execute(f'DROP TRIGGER IF EXISTS "messages_fts_{trigger}"')
    else:
        await _execute('DROP INDEX IF EXISTS "messages_search"')
    stamp = Message._meta.fields_map["created_at"].to_db_value(datetime.now(UTC), Message)
    mention = ",".join(str(people[n].id) for n in USERS)
    values = [rooms * per_room - 1, stamp, people["author"].id, ids[0], rooms, mention]
    if url.startswith("sqlite://"):
        await _execute(
            "WITH RECURSIVE seq(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM seq WHERE x < ?) "
            'INSERT INTO "messages" (content, created_at, author_id, room_id, mentions, deleted) '
            "SELECT 'message ' || x, ?, ?, ? + (x % ?), "
            "CASE WHEN x % 7 = 0 THEN ? ELSE '' END, 0 FROM seq",
            values,
        )
    else:
        await _execute(
            'INSERT INTO "messages" (content, created_at, author_id, room_id, mentions, deleted) '
            "SELECT 'message ' || x, $2, $3, $4 + (x % $5), "
            "CASE WHEN x % 7 = 0 THEN $6 ELSE '' END, false "
            "FROM generate_series(0, $1::int) AS x",
            values,
        )
    for name in USERS:
        # Markers at each room's end, minus UNREAD messages (ids step by `rooms`)
        # in one room of 5 (every room for `behind`).
        every = 1 if name == "behind" else 5
        user, step, behind, when, top = _marks(url, 5)  # in the order they appear
        await _execute(
            'INSERT INTO "read_markers" (user_id, room_id, last_read_id, seq, updated_at) '
            f"SELECT {user}, room_id, MAX(id) - CASE WHEN room_id % {step} = 0 "
            f"THEN {behind} ELSE 0 END, 1, {when} FROM messages "
            f"WHERE room_id <= {top} GROUP BY room_id",
            [people[name].id, every, UNREAD * rooms, stamp, rooms_of[name][-1]],
        )
    await _execute("ANALYZE")
    return time.perf_counter() - t0


async def seed(url: str, rooms: int, per_room: int) -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": url, "JWT_SECRET": JWT_SECRET, "DEMO": "0", "LOG_LEVEL": "warning"}
    )
    await runtime.start(settings)
    try:
        print("SEEDED " + json.dumps({"seconds": await load(url, rooms, per_room)}), flush=True)
    finally:
        await runtime.stop()


async def _seed_process(url: str, rooms: int, per_room: int) -> float:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.unread", url, "--rooms", str(rooms),
        "--per-room", str(per_room), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 900)
    if proc.returncode:
        raise RuntimeError("seeding the unread bench failed")
    seconds: float = json.loads(out.decode().split("SEEDED ", 1)[1])["seconds"]
    return seconds


async def unread_lines(
    backend: str, url: str, workdir: Path, rooms: int, per_room: int, rounds: int, samples: int
) -> list[Line]:
    log(f"unread on {backend}: {rooms} rooms of {per_room:,} messages")
    seeded = await _seed_process(url, rooms, per_room)
    server = await start_comptoir(f"comptoir-unread-{backend}", url, workdir)
    per: dict[str, list[list[float]]] = {n: [] for n in USERS}
    try:
        async with httpx.AsyncClient(base_url=server.http_url, timeout=60) as http:
            headers = {}
            for name in USERS:
                response = await http.post(
                    "/login", json={"email": f"{name}@bench.test", "password": PASSWORD}
                )
                response.raise_for_status()
                headers[name] = {"Authorization": f"Bearer {response.json()['access_token']}"}
            for round_no in range(rounds + 1):  # the first round warms up
                got: dict[str, list[float]] = {n: [] for n in USERS}
                for _ in range(samples):
                    for name in USERS:
                        t0 = time.perf_counter()
                        response = await http.get("/chat/unread", headers=headers[name])
                        got[name].append((time.perf_counter() - t0) * 1000)
                        body = response.json()
                        want = NARROW_ROOMS if name == "narrow" else rooms
                        if response.status_code != 200 or len(body["rooms"]) != want:
                            raise RuntimeError(f"unread for {name}: {response.text[:200]}")
                if round_no:
                    for name in USERS:
                        per[name].append(got[name])
    finally:
        server.proc.stop()

    def p50(name: str) -> float:
        return percentile([x for r in per[name] for x in r], 50)

    def paired(name: str) -> float:
        return median(
            percentile(a, 50) / percentile(b, 50)
            for a, b in zip(per[name], per["narrow"], strict=True)
        )

    scale = f"{rooms} vs {NARROW_ROOMS} rooms of {per_room // 1000}k msgs"
    notes = {"seed_seconds": seeded, "unread_per_room": UNREAD}
    figures = ", ".join(f"{n} {p50(n):.2f}" for n in USERS)
    log(f"  unread p50 ms: {figures}")
    return [
        Line(
            f"GET /chat/unread, {backend}, {scale}",
            "ms p50",
            p50("wide"),
            p50("narrow"),
            f"same, {NARROW_ROOMS} rooms",
            "max",
            2.0,
            notes={**notes, "p99_wide": percentile([x for r in per["wide"] for x in r], 99)},
            paired_ratio=paired("wide"),
        ),
        Line(
            f"GET /chat/unread, {backend}, {scale}, {UNREAD} unread in every room",
            "ms p50",
            p50("behind"),
            p50("narrow"),
            f"same, {NARROW_ROOMS} rooms",
            notes=notes,
            paired_ratio=paired("behind"),
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--per-room", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(seed(args.database_url, args.rooms, args.per_room))
