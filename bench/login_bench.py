"""Chat latency while 20 logins (bcrypt cost 12) run at once, vs no logins.

A paced probe posts chat messages (``POST /chat/rooms/general/messages``)
at a fixed rate and times each response. Quiet windows alternate with busy
ones, during which 20 clients log in over and over (each with a cost-12
hash), so that 20 logins are always in flight. bcrypt must stay off the
event loop.

The login itself is measured too: its latency while 20 run at once (they
queue on the bcrypt pool, ``BCRYPT_POOL_SIZE``), and the capacity in logins
per second per core the server burns, beside bcrypt's own checks per second
on one core. Pool sizes 1 and 2 each get a server of their own.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from bench.common import PASSWORD, HttpClient, cpu_seconds, log, percentile, start_comptoir
from bench.report import Line
from bench.ws_bench import WS_BENCH_ENV, login_all


@dataclass
class LoginConfig:
    samples: int = 200  # per side
    rate: float = 20.0
    logins: int = 20
    windows: int = 3


async def probe(http_url: str, token: str, samples: int, rate: float) -> list[float]:
    client = HttpClient.from_url(http_url)
    latencies: list[float] = []
    try:
        start = time.monotonic()
        for i in range(samples):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            t0 = time.monotonic()
            status, body = await asyncio.wait_for(
                client.json(
                    "POST", "/chat/rooms/general/messages", {"content": f"probe {i}"}, token=token
                ),
                30,
            )
            latencies.append((time.monotonic() - t0) * 1000)
            if status != 201:
                raise RuntimeError(f"POST message: {status} {body}")
    finally:
        await client.close()
    return latencies


async def login_loop(http_url: str, email: str, stop: asyncio.Event, done: list[float]) -> None:
    client = HttpClient.from_url(http_url)
    try:
        while not stop.is_set():
            t0 = time.monotonic()
            status, body = await asyncio.wait_for(
                client.json("POST", "/login", {"email": email, "password": PASSWORD}), 120
            )
            if status != 200:
                raise RuntimeError(f"login {email}: {status} {body}")
            done.append(time.monotonic() - t0)
    finally:
        await client.close()


def bcrypt_per_core(rounds: int = 12, samples: int = 5) -> float:
    """Checks per second of bcrypt itself on one core: the ceiling of a login."""
    import bcrypt

    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds))
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        bcrypt.checkpw(PASSWORD.encode(), hashed)
        times.append(time.perf_counter() - t0)
    return 1 / median(times)


async def login_lines(
    database_url: str,
    workdir: Path,
    config: LoginConfig,
    sender: str,
    login_emails: list[str],
    pool: int,
) -> list[Line]:
    env = {
        **WS_BENCH_ENV,
        "BCRYPT_POOL_SIZE": str(pool),
        # The bench's 20 users all log in from 127.0.0.1; in service they
        # would come from 20 addresses. Without this, the per-address cap on
        # password checks in flight (4 by default) answers most of them 429.
        "LOGIN_IP_CONCURRENCY": str(max(config.logins, 4)),
    }
    server = await start_comptoir(f"comptoir-login-{pool}", database_url, workdir, env)
    try:
        (token,) = await login_all(server.http_url, [sender])
        await probe(server.http_url, token, 20, config.rate)  # warm-up
        quiet: list[float] = []
        busy: list[float] = []
        done: list[float] = []
        capacity: list[float] = []
        window = config.samples // config.windows
        # Quiet and busy windows alternate, so both see the same drift.
        for index in range(config.windows):
            quiet += await probe(server.http_url, token, window, config.rate)
            stop = asyncio.Event()
            before = len(done)
            logins = [
                asyncio.create_task(login_loop(server.http_url, email, stop, done))
                for email in login_emails[: config.logins]
            ]
            await asyncio.sleep(0.5)  # every login queued before the window opens
            cpu0, wall0, count0 = cpu_seconds(server.proc.pid), time.monotonic(), len(done)
            try:
                busy += await probe(server.http_url, token, window, config.rate)
            finally:
                wall = time.monotonic() - wall0
                cores = (cpu_seconds(server.proc.pid) - cpu0) / wall
                finished = len(done) - count0
                stop.set()
                await asyncio.wait_for(asyncio.gather(*logins), 180)
            capacity.append(finished / wall / cores if cores else float("nan"))
            log(
                f"  pool {pool}, window {index + 1}: p99 {percentile(quiet[-window:], 99):.1f} ms "
                f"quiet, {percentile(busy[-window:], 99):.1f} ms with logins; "
                f"{len(done) - before} logins, p50 {percentile(done[before:], 50):.2f} s, "
                f"{capacity[-1]:.2f} logins/s/core"
            )
    finally:
        server.proc.stop()
    ceiling = bcrypt_per_core()
    notes = {
        "pool": pool,
        "p50_busy": percentile(busy, 50),
        "p50_quiet": percentile(quiet, 50),
        "logins_completed": len(done),
        "login_p50_seconds": percentile(done, 50),
        "login_p99_seconds": percentile(done, 99),
        "capacity_per_window": capacity,
        "bcrypt_checks_per_second_one_core": ceiling,
        "samples": config.samples,
        "rate": config.rate,
    }
    lines = [
        Line(
            f"login p50 with {config.logins} concurrent (pool {pool})",
            "s",
            percentile(done, 50),
            1 / ceiling,
            "one bcrypt check",
            notes=notes,
        ),
        Line(
            f"login capacity (pool {pool})",
            "logins/s/core",
            median(capacity),
            ceiling,
            "bcrypt alone",
            notes=notes,
            comptoir_runs=capacity,
            ratio_runs=[c / ceiling for c in capacity],
        ),
    ]
    if pool == 1:
        lines.insert(
            0,
            Line(
                f"chat POST p99 with {config.logins} logins (bcrypt 12)",
                "ms",
                percentile(busy, 99),
                percentile(quiet, 99),
                "no logins",
                "max",
                2.0,
                notes=notes,
            ),
        )
    return lines
