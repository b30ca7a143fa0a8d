"""``python -m bench.worst_query``: the heaviest GraphQL requests the limits let through.

Issue 11, finding 2: no single request may hold the event loop for more
than about 100 ms. One server process (SQLite, production settings) holds
100 public rooms of 100 members each and 100 messages; each query below is
within the default limits (cost 10,000, 15 aliases). While it runs, a
second client polls ``/health`` back to back on its own connection: the
slowest ``/health`` answer during the query bounds how long the event loop
was held (a held loop answers nobody). The idle ``/health`` time is the
baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import bcrypt
import httpx

from bench.common import (
    comptoir_env,
    cpu_seconds,
    free_port,
    log,
    start_comptoir,
    workspace,
)
from core.settings import Settings

ROOMS = 100
MEMBERS = 100
MESSAGES = 100
PASSWORD = "bench password 1"
TARGET_MS = 100.0


def _aliases(count: int, body: str) -> str:
    return "{ " + " ".join(f"a{i}: {body}" for i in range(count)) + " }"


def queries(cost: int) -> dict[str, str]:
    """The heaviest shapes within a cost budget (schema/limits.py's count:
    1 per field, times the page size of each list above it)."""
    per_room = cost // 100 - 2  # rooms(first: 100) { members(first: n) { id } }
    aliases = min(15, cost // 701)
    return {
        "reference: rooms { id }": "{ rooms { id } }",
        "the attack run's query (15 aliases of rooms { members })": _aliases(
            15, "rooms { id name members { id } }"
        ),
        f"rooms(first: 100) x members(first: {per_room - 1})": (
            f"{{ rooms(first: 100) {{ members(first: {per_room - 1}) {{ id }} }} }}"
        ),
        f"rooms(first: 100) x members(first: {per_room // 5}), 5 fields each": (
            f"{{ rooms(first: 100) {{ members(first: {per_room // 5}) "
            "{ id email displayName role createdAt } } }"
        ),
        f"{aliases} aliases of rooms(first: 100) x members(first: 5)": _aliases(
            aliases, "rooms(first: 100) { members(first: 5) { id } }"
        ),
        f"roomMessages(first: 100) x room.members(first: {per_room - 6})": (
            '{ roomMessages(room: "room-0", first: 100) { edges { node { id author { id } '
            f"room {{ members(first: {per_room - 6}) {{ id }} }} }} }} }} }}"
        ),
    }


def seed(path: Path) -> None:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO users (email, email_key, password_hash, display_name, role, is_active,"
            " created_at) VALUES (?, ?, ?, ?, 'MEMBER', 1, ?)",
            [
                (f"u{i}@bench.test", f"u{i}@bench.test", hashed, f"U{i}", now)
                for i in range(MEMBERS)
            ],
        )
        db.executemany(
            "INSERT INTO rooms (name, name_key, is_private, created_at) VALUES (?, ?, 0, ?)",
            [(f"room-{i}", f"room-{i}", now) for i in range(ROOMS)],
        )
        db.executemany(
            "INSERT INTO memberships (room_id, user_id, created_at) VALUES (?, ?, ?)",
            [(r, u, now) for r in range(1, ROOMS + 1) for u in range(1, MEMBERS + 1)],
        )
        db.executemany(
            "INSERT INTO messages (room_id, author_id, content, created_at) VALUES (1, ?, ?, ?)",
            [(1 + i % MEMBERS, f"message {i}", now) for i in range(MESSAGES)],
        )
    db.close()


async def _poll(client: httpx.AsyncClient, stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        response = await client.get("/health")
        assert response.status_code == 200
        out.append((time.perf_counter() - t0) * 1000)


async def measure(url: str, pid: int, token: str, query: str, rounds: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    durations: list[float] = []
    worst_health: list[float] = []
    size = 0
    async with (
        httpx.AsyncClient(base_url=url, timeout=60) as client,
        httpx.AsyncClient(base_url=url, timeout=60) as poller,
    ):
        for _ in range(rounds):
            stop = asyncio.Event()
            latencies: list[float] = []
            task = asyncio.create_task(_poll(poller, stop, latencies))
            await asyncio.sleep(0.05)
            latencies.clear()
            t0 = time.perf_counter()
            response = await client.post("/graphql", json={"query": query}, headers=headers)
            durations.append((time.perf_counter() - t0) * 1000)
            stop.set()
            await task
            body = response.json()
            if body.get("errors"):
                return {"refused": 1.0}
            size = len(response.content)
            worst_health.append(max(latencies) if latencies else durations[-1])
        # CPU time of the server per query, alone: the time the event loop is
        # busy with it, however loaded the machine is (wall times are not).
        cpu0 = cpu_seconds(pid)
        for _ in range(rounds):
            await client.post("/graphql", json={"query": query}, headers=headers)
        cpu_ms = (cpu_seconds(pid) - cpu0) * 1000 / rounds
    return {
        "server_cpu_ms": cpu_ms,
        "query_ms_p50": statistics.median(durations),
        "health_ms_max": max(worst_health),
        "health_ms_p50_of_max": statistics.median(worst_health),
        "response_bytes": size,
    }


async def idle_health(url: str) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        samples = []
        for _ in range(50):
            t0 = time.perf_counter()
            await client.get("/health")
            samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


async def run(rounds: int, cost: int) -> dict[str, object]:
    with workspace() as workdir:
        database_url = f"sqlite://{workdir / 'worst.sqlite3'}"
        env = comptoir_env(database_url, workdir, free_port(), free_port())
        extra = {"GRAPHQL_MAX_COST": str(cost)}
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "comptoir", "migrate"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        seed(workdir / "worst.sqlite3")
        server = await start_comptoir("worst-query", database_url, workdir, extra)
        try:
            async with httpx.AsyncClient(base_url=server.http_url) as client:
                login = await client.post(
                    "/login", json={"email": "u0@bench.test", "password": PASSWORD}
                )
                token = login.json()["access_token"]
            results: dict[str, object] = {"idle_health_ms": await idle_health(server.http_url)}
            for name, query in queries(cost).items():
                log(f"measuring {name}")
                results[name] = await measure(
                    server.http_url, server.proc.pid, token, query, rounds
                )
            return results
        finally:
            server.proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cost", type=int, default=Settings().graphql_max_cost)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(run(args.rounds, args.cost))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"GRAPHQL_MAX_COST={args.cost}; idle /health: {results['idle_health_ms']:.1f} ms")
    print(
        "| query | server CPU ms per query | query ms (p50) | slowest /health during it, ms "
        "| response bytes | CPU <= 100 ms |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, figures in results.items():
        if not isinstance(figures, dict):
            continue
        if "refused" in figures:
            print(f"| {name} | refused by the limits | - | - | - | yes |")
            continue
        ok = "yes" if figures["server_cpu_ms"] <= TARGET_MS else "NO"
        print(
            f"| {name} | {figures['server_cpu_ms']:.0f} | {figures['query_ms_p50']:.0f} | "
            f"{figures['health_ms_max']:.0f} | {figures['response_bytes']:,} | {ok} |"
        )


if __name__ == "__main__":
    main()
