"""Server processes for tests: ``python -m comptoir serve`` on its own, or
several sharing one scratch database and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis.asyncio as redis

from tests.conftest import PASSWORD
from tests.harness import free_port, is_postgres, scratch_database, service_env

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 60  # a busy machine runs migrations slowly


@dataclass
class ServerProcess:
    process: asyncio.subprocess.Process
    http_url: str
    ws_url: str
    env: dict[str, str]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.http_url, timeout=30)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise


def process_env(database_url: str, tmp: Path, **overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        **service_env(database_url, tmp),
        "PORT": str(free_port()),
        "WS_PORT": str(free_port()),
    }
    env.update(overrides)
    return env


async def spawn(*args: str, env: Mapping[str, str], **streams: Any) -> asyncio.subprocess.Process:
    """``python -m comptoir ARGS`` from the checkout, with ``env`` and ``streams``
    (``stdin``, ``stdout``, ``stderr``)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "comptoir", *args, cwd=ROOT, env=env, **streams
    )


async def until_healthy(process: asyncio.subprocess.Process, http_url: str) -> None:
    """Wait until the server ``process`` answers ``/health`` with 200 (a minute
    at most); AssertionError if it exits or does not."""
    async with httpx.AsyncClient(base_url=http_url, timeout=2) as client:
        for _ in range(START_SECONDS * 10):
            if process.returncode is not None:
                raise AssertionError(f"server exited with {process.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError("server did not become healthy")


async def terminate(process: asyncio.subprocess.Process) -> None:
    """Stop a server: gracefully first (it releases what it holds in Redis),
    killed if that takes over 15 seconds."""
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
    await process.wait()


async def run_cli(*args: str, env: dict[str, str]) -> None:
    process = await spawn(
        *args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()[-2000:]


@asynccontextmanager
async def server_process(
    env: dict[str, str], *, migrate: bool = True, log: Path | None = None
) -> AsyncIterator[ServerProcess]:
    """``python -m comptoir serve`` with ``env``, healthy; stopped afterwards.
    Its stderr goes to ``log`` when given."""
    args = ["serve"] if migrate else ["serve", "--no-migrate"]
    with log.open("wb") if log else open(os.devnull, "wb") as stderr:
        process = await spawn(*args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=stderr)
    server = ServerProcess(
        process,
        http_url=f"http://127.0.0.1:{env['PORT']}",
        ws_url=f"ws://127.0.0.1:{env['WS_PORT']}",
        env=env,
    )
    try:
        await until_healthy(process, server.http_url)
        yield server
    finally:
        await terminate(process)


# --- processes sharing one database and Redis ----------------------------------------

LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/test"
LOCAL_REDIS = "redis://127.0.0.1:6379"


def postgres_url() -> str:
    """The suite's PostgreSQL server, else the local one."""
    url = os.environ.get("DATABASE_URL", "")
    return url if is_postgres(url) else LOCAL_POSTGRES


def redis_url() -> str:
    """The suite's Redis, else the local one."""
    url = os.environ.get("BROADCAST_URL", "")
    return url if urlsplit(url).scheme in {"redis", "rediss"} else LOCAL_REDIS


async def require_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        await asyncio.wait_for(client.ping(), 5)
    except Exception as error:
        raise AssertionError(f"the scale-out test needs Redis at {url}: {error!r}") from error
    finally:
        await client.aclose()


@asynccontextmanager
async def server_group(
    tmp: Path,
    count: int,
    prefix: str,
    *,
    database: str | None = None,
    admins: Sequence[str] = (),
    **overrides: str,
) -> AsyncIterator[list[ServerProcess]]:
    """``count`` healthy ``serve`` processes on one scratch database (on
    ``database``'s server, default :func:`postgres_url`: PostgreSQL whatever
    the suite runs on), migrated once, sharing Redis (:func:`redis_url`) under
    one fresh ``PUBSUB_PREFIX`` starting with ``prefix``; each of ``admins``
    (emails) created first by ``createuser --admin`` with :data:`PASSWORD`."""
    broadcast = redis_url()
    await require_redis(broadcast)
    async with (
        scratch_database(database or postgres_url(), tmp) as database_url,
        AsyncExitStack() as stack,
    ):
        shared = {
            "BROADCAST_URL": broadcast,
            "PUBSUB_PREFIX": f"{prefix}-{uuid.uuid4().hex[:8]}",
            **overrides,
        }
        envs = [process_env(database_url, tmp, **shared) for _ in range(count)]
        await run_cli("migrate", env=envs[0])
        for email in admins:
            await run_cli(
                "createuser", "--email", email, "--password", PASSWORD, "--admin", env=envs[0]
            )
        yield [await stack.enter_async_context(server_process(env, migrate=False)) for env in envs]


@dataclass
class TwoProcesses:
    """Two server processes sharing a database and Redis, an HTTP client of
    each (accounts: ``tests.account_helpers``)."""

    one: ServerProcess
    two: ServerProcess
    http1: httpx.AsyncClient
    http2: httpx.AsyncClient


@asynccontextmanager
async def two_processes(
    tmp: Path,
    prefix: str,
    *,
    database: str | None = None,
    admins: Sequence[str] = (),
    **overrides: str,
) -> AsyncIterator[TwoProcesses]:
    """Two processes of :func:`server_group`, with an HTTP client each."""
    group = server_group(tmp, 2, prefix, database=database, admins=admins, **overrides)
    async with group as (one, two), one.client() as http1, two.client() as http2:
        yield TwoProcesses(one, two, http1, http2)
