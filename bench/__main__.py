"""``python -m bench [--quick] [--only NAME ...]``: run the benchmarks, print the table.

Each line compares Comptoir with a baseline measured in this same run on
this same machine, and writes everything to ``bench/results/*.json``.
Servers and load generators are separate processes on 127.0.0.1; every
loop is bounded in count and time. The exit status is 1 when a line misses
its target. HTTP and login lines run at least 3 alternating rounds and the
table prints their min–max beside the median. ``--quick`` shrinks every
line (2-second rounds, 200 WebSocket clients, 200k messages, one WS round,
100k messages to search) for a smoke run: its figures are not the targets'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import log, workspace
from bench.http_bench import HttpConfig
from bench.report import Line, Skipped, table, write_json

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
USERS = 120
LOGIN_USERS = 20


@dataclass
class Options:
    quick: bool
    workdir: Path
    pg_url: str | None
    redis_url: str | None

    @property
    def sqlite_url(self) -> str:
        return f"sqlite://{self.workdir / 'bench.sqlite3'}"


async def seed(url: str, *, users: int, login_users: int) -> dict[str, object]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.seed",
        url,
        "--users",
        str(users),
        "--login-users",
        str(login_users),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    if proc.returncode:
        raise RuntimeError("seeding failed")
    result: dict[str, object] = json.loads(out)
    return result


def http_config(options: Options) -> HttpConfig:
    from bench.http_bench import HttpConfig

    if options.quick:
        return HttpConfig(seconds=2, warmup=1, rounds=3)
    return HttpConfig(seconds=3, warmup=2, rounds=5)


async def bench_http(options: Options) -> list[Line]:
    from bench.http_bench import rest_and_graphql

    config = http_config(options)
    return await rest_and_graphql(options.sqlite_url, options.workdir, config)


async def bench_two_processes(options: Options) -> list[Line]:
    from bench.scale_bench import two_processes, ws_two_processes

    if not options.redis_url:
        raise SkipError("no Redis (--redis)")
    config = http_config(options)
    lines = await two_processes(options.sqlite_url, options.workdir, config, options.redis_url)
    emails = [f"user{i}@bench.test" for i in range(USERS)]
    clients = 200 if options.quick else 500
    lines.append(
        await ws_two_processes(
            options.sqlite_url,
            options.workdir,
            options.redis_url,
            emails,
            clients=clients,
            rounds=3,
        )
    )
    return lines


class SkipError(Exception):
    pass


async def bench_live_order(options: Options) -> list[Line]:
    from bench.live_order import live_order_line

    if not options.redis_url or not options.pg_url:
        raise SkipError("needs PostgreSQL (--pg) and Redis (--redis)")
    per_sender = 10 if options.quick else 40
    return [await live_order_line(options.pg_url, options.redis_url, options.workdir, per_sender)]


async def bench_history(options: Options) -> list[Line]:
    from bench.common import scratch_postgres
    from bench.history_runner import history_lines

    large = 200_000 if options.quick else 1_000_000
    rounds, samples = (3, 30) if options.quick else (6, 50)
    lines: list[Line] = []
    small_db = f"sqlite://{options.workdir / 'history-small.sqlite3'}"
    large_db = f"sqlite://{options.workdir / 'history-large.sqlite3'}"
    lines += await history_lines("SQLite", small_db, large_db, 10_000, large, rounds, samples)
    for name in ("history-small.sqlite3", "history-large.sqlite3"):
        (options.workdir / name).unlink(missing_ok=True)
    if options.pg_url:
        async with (
            scratch_postgres(options.pg_url) as pg_small,
            scratch_postgres(options.pg_url) as pg_large,
        ):
            lines += await history_lines(
                "PostgreSQL", pg_small, pg_large, 10_000, large, rounds, samples
            )
    return lines


async def bench_ws(options: Options) -> list[Line]:
    from bench.ws_bench import WsConfig, ws_lines

    config = WsConfig()
    if options.quick:
        config = WsConfig(clients=200, burst=50, paced=30, rate=10, gql_clients=50, rounds=1)
    emails = [f"user{i}@bench.test" for i in range(USERS)]
    return await ws_lines(options.sqlite_url, options.workdir, config, emails)


async def bench_graphql_ws(options: Options) -> list[Line]:
    from bench.common import start_comptoir
    from bench.gql_bench import graphql_lines
    from bench.ws_bench import WS_BENCH_ENV, WsConfig, login_all

    config = WsConfig()
    if options.quick:
        config = WsConfig(burst=50, paced=30, rate=10, gql_clients=200, rounds=1)
    emails = [f"user{i}@bench.test" for i in range(USERS)]
    server = await start_comptoir("comptoir-gql", options.sqlite_url, options.workdir, WS_BENCH_ENV)
    try:
        tokens = await login_all(server.http_url, emails)
        return await graphql_lines(
            server,
            tokens,
            clients=config.gql_clients,
            processes=config.processes,
            burst=config.burst,
            paced=config.paced,
            rate=config.rate,
            rounds=config.rounds,
            workdir=options.workdir,
        )
    finally:
        server.proc.stop()


async def bench_logins(options: Options) -> list[Line]:
    from bench.login_bench import LoginConfig, login_lines

    config = LoginConfig(samples=90, windows=3) if options.quick else LoginConfig(samples=300)
    emails = [f"login{i}@bench.test" for i in range(LOGIN_USERS)]
    lines: list[Line] = []
    for pool in (1, 2):
        lines += await login_lines(
            options.sqlite_url, options.workdir, config, "user0@bench.test", emails, pool
        )
    return lines


async def bench_load(options: Options) -> list[Line]:
    from bench.load_ws import standalone

    clients, rooms, messages = (200, 10, 3) if options.quick else (1000, 10, 5)
    result = await standalone(clients, rooms, messages, deadline=240)
    growth = None
    if result.server_rss_kib_peak and result.server_rss_kib_before:
        growth = (result.server_rss_kib_peak - result.server_rss_kib_before) / 1024
    bounded = growth is not None and growth <= 256
    return [
        Line(
            f"load: {clients} WS clients, {rooms} rooms, {messages} msgs each",
            "deliv/s",
            result.delivered / result.seconds if result.seconds else float("nan"),
            float("nan"),
            "none",
            extra_check="all delivered once + stored, RSS growth <= 256 MiB",
            extra_ok=result.ok and bounded,
            notes={**result.summary(), "rss_growth_mib": growth},
        )
    ]


def _search_size(options: Options) -> tuple[int, int]:
    return (100_000, 40) if options.quick else (1_000_000, 100)


async def bench_search(options: Options) -> list[Line]:
    from bench.search_runner import run_search, search_lines

    rows, samples = _search_size(options)
    path = options.workdir / "search.sqlite3"
    try:
        result = await run_search(f"sqlite://{path}", rows, samples, within=560)
    finally:
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    return search_lines("SQLite", result)


async def bench_search_pg(options: Options) -> list[Line]:
    from bench.common import scratch_postgres
    from bench.search_runner import run_search, search_lines

    if not options.pg_url:
        raise SkipError("no PostgreSQL (--pg)")
    rows, samples = _search_size(options)
    async with scratch_postgres(options.pg_url) as pg:
        return search_lines("PostgreSQL", await run_search(pg, rows, samples, within=560))


async def bench_unread(options: Options) -> list[Line]:
    """Issue 15: unread counts for 500 rooms vs 5 (``--quick``: 500 rooms of 200)."""
    from bench.common import scratch_postgres
    from bench.unread import unread_lines

    rooms, per_room = 500, (200 if options.quick else 10_000)
    rounds, samples = (3, 20) if options.quick else (5, 40)
    db = f"sqlite://{options.workdir / 'unread.sqlite3'}"
    lines = await unread_lines("SQLite", db, options.workdir, rooms, per_room, rounds, samples)
    (options.workdir / "unread.sqlite3").unlink(missing_ok=True)
    if options.pg_url:
        async with scratch_postgres(options.pg_url) as pg:
            lines += await unread_lines(
                "PostgreSQL", pg, options.workdir, rooms, per_room, rounds, samples
            )
    return lines


async def bench_presence(options: Options) -> list[Line]:
    from bench.presence_bench import presence_lines
    from bench.ws_bench import WsConfig

    if options.quick:
        config, churn = WsConfig(clients=200, burst=50, paced=30, rate=10, rounds=1), 200
    else:
        config, churn = WsConfig(clients=1000, burst=100, paced=100, rate=10, rounds=2), 1000
    return await presence_lines(options.workdir, config, churn)


BENCHES: dict[str, Callable[[Options], Awaitable[list[Line]]]] = {
    "http": bench_http,
    "two-processes": bench_two_processes,
    "live-order": bench_live_order,
    "history": bench_history,
    "logins": bench_logins,
    "ws": bench_ws,
    "graphql-ws": bench_graphql_ws,
    "load": bench_load,
    "search": bench_search,
    "search-pg": bench_search_pg,
    "unread": bench_unread,
    "presence": bench_presence,
}


async def run(options: Options, only: list[str]) -> int:
    lines: list[Line] = []
    skipped: list[Skipped] = []
    started = time.monotonic()
    log(f"seeding {options.sqlite_url}")
    await seed(options.sqlite_url, users=USERS, login_users=LOGIN_USERS)
    for name, bench in BENCHES.items():
        if only and name not in only:
            continue
        log(f"== {name}")
        t0 = time.monotonic()
        try:
            got = await asyncio.wait_for(bench(options), 600)
            lines.extend(got)
        except SkipError as reason:
            skipped.append(Skipped(name, str(reason)))
        except Exception as error:
            traceback.print_exc()
            skipped.append(Skipped(name, f"error: {error!r}"[:300]))
        log(f"   {name} took {time.monotonic() - t0:.0f}s")
    print()
    print(table(lines, skipped))
    path = write_json(
        lines,
        skipped,
        {
            "quick": options.quick,
            "seconds": round(time.monotonic() - started, 1),
            "cores": os.cpu_count(),
            "command": " ".join(["python -m bench", *sys.argv[1:]]),
        },
    )
    print(f"\nwritten: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    print(f"total time: {time.monotonic() - started:.0f}s")
    return 1 if any(line.passed is False for line in lines) else 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (~1-2 minutes)")
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(BENCHES))
    parser.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_PG),
        help="PostgreSQL admin URL for scratch databases ('' to skip)",
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
        help="Redis URL for the two-process line ('' to skip)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    with workspace(keep=args.keep) as workdir:
        if args.keep:
            log(f"work folder: {workdir}")
        options = Options(args.quick, workdir, args.pg or None, args.redis or None)
        return asyncio.run(run(options, args.only))


if __name__ == "__main__":
    raise SystemExit(main())
