"""Start real servers on free ports and talk to them as clients do.

The suite runs against the database and broadcast named by the environment
(``DATABASE_URL``, ``BROADCAST_URL``), defaulting to SQLite in a temporary
folder and ``memory://``. A PostgreSQL URL names the server to use: the
suite creates a database of its own there and drops it at the end, so runs
never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import uvicorn
from starlette.applications import Starlette

from comptoir.app import build_app
from comptoir.timeouts import uvicorn_config
from core.settings import Settings

TEST_SECRET = "test-secret-" + "x" * 60
METRICS_TOKEN = "metrics-token-" + "m" * 20


# Ports for the servers a test starts come from below the kernel's ephemeral
# range (``ip_local_port_range``, 32768-60999 by default). A port the kernel
# handed out for ``bind(0)`` is in that range, and once released it can be
# taken as the local port of any outgoing connection (a client socket, a
# database or Redis connection of another worker) before the server binds it:
# the server then exits with 3 at start-up. Below the range, only another
# server's bind can take it; a random start and the ports given out before
# keep workers (and the two CI runs) apart.
_SERVER_PORTS = range(20000, 32768)
_given: set[int] = set()


def free_port() -> int:
    start = random.randrange(len(_SERVER_PORTS))
    for i in range(len(_SERVER_PORTS)):
        port = _SERVER_PORTS[(start + i) % len(_SERVER_PORTS)]
        if port in _given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


def is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in {"postgres", "postgresql", "asyncpg"}


@asynccontextmanager
async def scratch_database(base_url: str | None, tmp: Path) -> AsyncIterator[str]:
    """A database URL nobody else uses, removed afterwards."""
    if not base_url or not is_postgres(base_url):
        yield f"sqlite://{tmp / 'comptoir-test.sqlite3'}"
        return
    parts = urlsplit(base_url)
    name = f"comptoir_test_{uuid.uuid4().hex[:12]}"
    admin_url = urlunsplit(("postgresql", parts.netloc, parts.path or "/postgres", "", ""))
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        # A commit returns before its WAL reaches the disk: what other
        # sessions see, and what survives a Comptoir process being killed,
        # is unchanged (only a crash of PostgreSQL itself could lose the last
        # commits of a scratch database). Waiting on the disk at each commit
        # cost the PostgreSQL run much of its time on a busy machine.
        await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await conn.close()
    try:
        yield urlunsplit(("postgres", parts.netloc, f"/{name}", parts.query, ""))
    finally:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def service_env(database_url: str, tmp: Path, **overrides: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "BROADCAST_URL": os.environ.get("BROADCAST_URL", "memory://"),
        "PUBSUB_PREFIX": f"comptoir-test-{uuid.uuid4().hex[:8]}",
        "JWT_SECRET": TEST_SECRET,
        "BCRYPT_ROUNDS": "4",
        "HOST": "127.0.0.1",
        "PORT": "0",
        "WS_PORT": "0",
        "UPLOAD_DIR": str(tmp / "uploads"),
        "DEMO": "0",
        "GRAPHIQL": "1",
        "GRAPHQL_INTROSPECTION": "1",
        "LOG_LEVEL": "warning",
        "METRICS_TOKEN": METRICS_TOKEN,
        # Short, so that tests of reuse after the window do not wait 10 s.
        "REFRESH_GRACE_SECONDS": "2",
        # Short, so that presence tests see a user go offline within a second or two.
        "PRESENCE_GRACE_SECONDS": "1",
    }
    env.update(overrides)
    return env


@dataclass
class Service:
    """A running Comptoir: HTTP base URL, WebSocket URL and the app."""

    app: Starlette
    settings: Settings
    http_url: str
    ws_url: str

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.http_url, timeout=30, **kwargs)


@asynccontextmanager
async def running_service(
    env: Mapping[str, str], *, migrate: bool = True
) -> AsyncIterator[Service]:
    settings = Settings.from_env(env)
    app = build_app(settings, migrate=migrate)
    config = uvicorn_config(app, settings, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server exited during start-up")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield Service(
            app=app,
            settings=settings,
            http_url=f"http://127.0.0.1:{port}",
            ws_url=f"ws://127.0.0.1:{app.state.chat.port}",
        )
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)
