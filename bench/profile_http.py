"""In-process CPU cost of one HTTP route, for profiling under load.

``python -m bench.profile_http TARGET [--n 300] [--concurrency 1] [--profile FILE] [--db URL]``

Seeds a scratch SQLite database as ``make bench`` does, builds the app in
this process (Comptoir, or ``bench.baseline_rest`` for the baselines) and
sends it ``n`` requests straight through ASGI, one at a time, after a
warm-up. It prints the CPU time per request of the whole process (the
database driver's thread included) and the Python function calls per
request: both depend little on the machine's load, unlike wall-clock
throughput. ``--profile FILE`` writes a cProfile of the measured requests
(``python -m pstats FILE``).

Targets: ``rest``, ``gql``, ``rest_chat``, ``gql_chat`` (Comptoir) and
``tortoise``, ``raw``, ``raw_chat``, ``strawberry`` (the baselines). Uvicorn's
own parsing and the network are left out: they cost every route the same.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import JWT_SECRET, PASSWORD, ROOT, free_port
from bench.http_bench import CHAT_PATH, CHAT_QUERY, PRODUCTS_QUERY, REST_PATH

Request = tuple[str, str, bytes | None, bool]  # method, path, body, with the token
COMPTOIR: dict[str, Request] = {
    "rest": ("GET", REST_PATH, None, False),
    "gql": ("POST", "/graphql", json.dumps({"query": PRODUCTS_QUERY}).encode(), False),
    "rest_chat": ("GET", CHAT_PATH, None, True),
    "gql_chat": ("POST", "/graphql", json.dumps({"query": CHAT_QUERY}).encode(), True),
}
BASELINE: dict[str, Request] = {
    "tortoise": ("GET", "/tortoise/products", None, False),
    "raw": ("GET", "/raw/products", None, False),
    "raw_chat": ("GET", "/raw/chat", None, True),
    "strawberry": ("POST", "/graphql", json.dumps({"query": PRODUCTS_QUERY}).encode(), False),
}


def _environment(database_url: str, workdir: Path) -> None:
    os.environ.update(
        DATABASE_URL=database_url,
        BROADCAST_URL="memory://",
        JWT_SECRET=JWT_SECRET,
        DEMO="0",
        LOG_LEVEL="warning",
        HOST="127.0.0.1",
        PORT=str(free_port()),
        WS_PORT=str(free_port()),
        UPLOAD_DIR=str(workdir / "uploads"),
        ACCESS_TOKEN_TTL="7200",
    )


async def call(
    app: Any, method: str, target: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    """One request through ``app`` (ASGI), its status and body."""
    url = urlsplit(target)
    sent: list[bytes] = []
    status = 0
    pending = [{"type": "http.request", "body": body or b"", "more_body": False}]
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if body is not None:
        raw_headers.append((b"content-type", b"application/json"))
        raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": url.path,
        "raw_path": url.path.encode(),
        "query_string": url.query.encode(),
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.Event().wait()  # never: the request has no more body
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            sent.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(sent)


async def measure(
    app: Any,
    request: Request,
    token: str | None,
    n: int,
    profile: str | None,
    concurrency: int = 1,
) -> None:
    method, path, body, authed = request
    headers = {"accept": "application/json"}
    if authed:
        headers["authorization"] = f"Bearer {token}"
    status, answer = await call(app, method, path, body, headers)
    if status != 200 or b'"errors"' in answer:
        raise RuntimeError(f"{path}: {status} {answer[:300]!r}")
    for _ in range(max(50, n // 5)):
        await call(app, method, path, body, headers)
    profiler = cProfile.Profile() if profile else None
    counter = cProfile.Profile()
    counter.enable()
    for _ in range(20):
        await call(app, method, path, body, headers)
    counter.disable()
    calls = sum(row[1] for row in pstats.Stats(counter).stats.values()) / 20  # type: ignore[attr-defined]
    started = time.process_time()
    if profiler is not None:
        profiler.enable()

    async def worker(count: int) -> None:
        for _ in range(count):
            await call(app, method, path, body, headers)

    await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
    n = n // concurrency * concurrency
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    spent = time.process_time() - started
    print(
        f"{path}: {spent / n * 1e6:.0f} us CPU per request, {calls:.0f} Python calls "
        f"per request, {len(answer)} bytes"
    )


async def comptoir_token(app: Any) -> str:
    body = json.dumps({"email": "user0@bench.test", "password": PASSWORD}).encode()
    status, answer = await call(app, "POST", "/login", body, {})
    if status != 200:
        raise RuntimeError(f"login: {status} {answer[:300]!r}")
    return str(json.loads(answer)["access_token"])


async def run_comptoir(
    name: str, n: int, profile: str | None, mint: bool, concurrency: int = 1
) -> None:
    from comptoir.app import build_app
    from core.settings import Settings

    app = build_app(Settings.from_env(), migrate=False)
    async with app.router.lifespan_context(app):
        token = await comptoir_token(app)
        if mint:
            print(token)
            return
        await measure(app, COMPTOIR[name], token, n, profile, concurrency)


async def run_baseline(
    name: str, n: int, profile: str | None, token: str, concurrency: int = 1
) -> None:
    from bench.baseline_rest import build

    app = build(os.environ["DATABASE_URL"])
    async with app.router.lifespan_context(app):
        await measure(app, BASELINE[name], token, n, profile, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", choices=[*COMPTOIR, *BASELINE, "token"])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument(
        "--concurrency", type=int, default=1, help="requests in flight at once (wrk's -c)"
    )
    parser.add_argument("--profile")
    parser.add_argument("--db", help="an already seeded database (else a scratch one)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="comptoir-profile-"))
    try:
        database_url = args.db or f"sqlite://{workdir / 'bench.db'}"
        _environment(database_url, workdir)
        if args.db is None:
            subprocess.run(
                [sys.executable, "-m", "bench.seed", database_url],
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        if args.target in COMPTOIR or args.target == "token":
            mint = args.target == "token"
            asyncio.run(run_comptoir(args.target, args.n, args.profile, mint, args.concurrency))
            return
        token = ""
        if BASELINE[args.target][3]:
            minted = subprocess.run(
                [sys.executable, "-m", "bench.profile_http", "token", "--db", database_url],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            token = minted.stdout.split()[-1]
        asyncio.run(run_baseline(args.target, args.n, args.profile, token, args.concurrency))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
