"""Chat latency while 20 logins (bcrypt cost 12) run at once, vs no logins.

A paced probe posts chat messages (``POST /chat/rooms/general/messages``)
at a fixed rate and times each response. Quiet windows alternate with busy
ones, during which 20 clients log in over and over (each with a cost-12
hash), so that 20 logins are always in flight. bcrypt must stay off the
event loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import PASSWORD, HttpClient, log, percentile, start_comptoir
from bench.report import Line
from bench.ws_bench import WS_BENCH_ENV, login_all


@dataclass
class LoginConfig:
    samples: int = 200  # per side
    rate: float = 20.0
    logins: int = 20
    windows: int = 2


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


async def login_line(
    database_url: str, workdir: Path, config: LoginConfig, sender: str, login_emails: list[str]
) -> Line:
    server = await start_comptoir("comptoir-login", database_url, workdir, WS_BENCH_ENV)
    try:
        (token,) = await login_all(server.http_url, [sender])
        await probe(server.http_url, token, 20, config.rate)  # warm-up
        quiet: list[float] = []
        busy: list[float] = []
        done: list[float] = []
        window = config.samples // config.windows
        # Quiet and busy windows alternate, so both see the same drift.
        for index in range(config.windows):
            quiet += await probe(server.http_url, token, window, config.rate)
            stop = asyncio.Event()
            logins = [
                asyncio.create_task(login_loop(server.http_url, email, stop, done))
                for email in login_emails[: config.logins]
            ]
            await asyncio.sleep(0.5)  # every login queued before the window opens
            try:
                busy += await probe(server.http_url, token, window, config.rate)
            finally:
                stop.set()
                await asyncio.wait_for(asyncio.gather(*logins), 180)
            log(
                f"  window {index + 1}: p99 {percentile(quiet[-window:], 99):.1f} ms quiet, "
                f"{percentile(busy[-window:], 99):.1f} ms with logins ({len(done)} logins so far)"
            )
    finally:
        server.proc.stop()
    return Line(
        f"chat POST p99 with {config.logins} logins (bcrypt 12)",
        "ms",
        percentile(busy, 99),
        percentile(quiet, 99),
        "no logins",
        "max",
        2.0,
        notes={
            "p50_busy": percentile(busy, 50),
            "p50_quiet": percentile(quiet, 50),
            "logins_completed": len(done),
            "login_p50_seconds": percentile(done, 50),
            "samples": config.samples,
            "rate": config.rate,
        },
    )
