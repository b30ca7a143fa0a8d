"""Raw WebSocket clients and server processes for the chat server's tests."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import uuid
import weakref
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis.asyncio as redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import PASSWORD, Account
from tests.harness import free_port, is_postgres, scratch_database, service_env

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 5.0
_refs = itertools.count(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def open_ws(ws_url: str, token: str | None = None, **kwargs: Any) -> ClientConnection:
    """A connection whose ``ready`` frame has not been read yet."""
    headers = bearer(token) if token else None
    kwargs.setdefault("open_timeout", TIMEOUT)
    kwargs.setdefault("max_size", None)
    return await connect(ws_url, additional_headers=headers, **kwargs)


@asynccontextmanager
async def chat_client(ws_url: str, token: str, **kwargs: Any) -> AsyncIterator[ClientConnection]:
    """A connection past its ``ready`` frame."""
    ws = await open_ws(ws_url, token, **kwargs)
    try:
        first = await recv(ws)
        assert first["type"] == "ready", first
        yield ws
    finally:
        await ws.close()


async def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(json.dumps(frame))


# Frames skipped by request() while it waited for its reply, per connection:
# recv() returns them first, in order.
_backlog: weakref.WeakKeyDictionary[ClientConnection, deque[dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


async def recv(ws: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    waiting = _backlog.get(ws)
    if waiting:
        return waiting.popleft()
    raw = await asyncio.wait_for(ws.recv(), timeout)
    frame = json.loads(raw)
    assert isinstance(frame, dict), frame
    return frame


async def recv_until(
    ws: ClientConnection, kind: str, timeout: float = TIMEOUT
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The next frame of type ``kind``, and the frames received before it."""
    before: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = await recv(ws, timeout)
            if frame["type"] == kind:
                return frame, before
            before.append(frame)


async def request(
    ws: ClientConnection, frame: dict[str, Any], timeout: float = TIMEOUT
) -> dict[str, Any]:
    """Send a frame with a ``ref``, and return the reply carrying that ``ref``
    (other frames, such as live messages, are kept for :func:`recv`)."""
    ref = frame.setdefault("ref", f"r-{next(_refs)}")
    await send(ws, frame)
    skipped: deque[dict[str, Any]] = deque()
    try:
        async with asyncio.timeout(timeout):
            while True:
                reply = await recv(ws, timeout)
                if reply.get("ref") == ref:
                    return reply
                skipped.append(reply)
    finally:
        if skipped:
            _backlog.setdefault(ws, deque()).extend(skipped)


async def silence(ws: ClientConnection, seconds: float = 0.3) -> None:
    """Assert that nothing arrives for a while."""
    assert not _backlog.get(ws), _backlog[ws]
    try:
        frame = await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected frame: {frame!r}")


async def close_code(ws: ClientConnection, timeout: float = TIMEOUT) -> int:
    """Read until the connection closes; the close code the server sent
    (1006 if it sent none)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else 1006
    raise AssertionError("unreachable")


async def handshake_status(ws_url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status a handshake gets (101 when it opens)."""
    from websockets.exceptions import InvalidStatus

    try:
        ws = await connect(ws_url, additional_headers=headers, open_timeout=TIMEOUT)
    except InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return 101


# --- chat steps ------------------------------------------------------------------------


async def create_room(
    http: httpx.AsyncClient, owner: Account, name: str = "general", *, private: bool = False
) -> dict[str, Any]:
    response = await http.post(
        "/chat/rooms", json={"name": name, "is_private": private}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    room: dict[str, Any] = response.json()
    return room


async def join(ws: ClientConnection, room: str | int, **extra: Any) -> dict[str, Any]:
    reply = await request(ws, {"type": "join", "room": room, **extra})
    assert reply["type"] == "joined", reply
    return reply


async def say(ws: ClientConnection, content: str, room: str = "general", **extra: Any) -> int:
    """Send a message with a ref and return the id of its ack."""
    reply = await request(ws, {"type": "message", "room": room, "content": content, **extra})
    assert reply["type"] == "ack", reply
    return int(reply["id"])


async def rest_history(
    http: httpx.AsyncClient, who: Account, room: str = "general", **params: Any
) -> list[dict[str, Any]]:
    response = await http.get(f"/chat/rooms/{room}/messages", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()
    return messages


async def recv_until_joined(
    ws: ClientConnection, *, after: int, room: str = "general"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    await send(ws, {"type": "join", "room": room, "after": after, "ref": "join"})
    joined, before = await recv_until(ws, "joined")
    assert joined["ref"] == "join"
    return joined, before


# --- a server in its own process ---------------------------------------------------


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


async def run_cli(*args: str, env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "comptoir",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
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
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "comptoir",
            *args,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )
    server = ServerProcess(
        process,
        http_url=f"http://127.0.0.1:{env['PORT']}",
        ws_url=f"ws://127.0.0.1:{env['WS_PORT']}",
        env=env,
    )
    try:
        async with server.client() as client:
            for _ in range(600):
                if process.returncode is not None:
                    raise AssertionError(f"server exited with {process.returncode}")
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("server did not become healthy")
        yield server
    finally:
        # A graceful stop first (it releases what the server holds in Redis).
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
        await process.wait()


async def register(client: httpx.AsyncClient, email: str) -> tuple[int, str]:
    """A new account through POST /register: (user id, access token)."""
    account = await new_account(client, email)
    return account.id, account.token


async def new_account(client: httpx.AsyncClient, email: str) -> Account:
    """A new account through POST /register, with :data:`PASSWORD`."""
    response = await client.post("/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return await _signed_in(client, email, response.json())


async def logged_in(client: httpx.AsyncClient, email: str) -> Account:
    """An existing account with :data:`PASSWORD`, through POST /login."""
    response = await client.post("/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return await _signed_in(client, email, response.json())


async def _signed_in(client: httpx.AsyncClient, email: str, tokens: dict[str, Any]) -> Account:
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    me = await client.get("/me", headers=bearer(access))
    assert me.status_code == 200, me.text
    return Account(int(me.json()["id"]), email, PASSWORD, access, refresh)


def token_for(token: str, *, expires_in: float) -> str:
    """A token of the same user and session as ``token``, signed with the test
    secret, expiring ``expires_in`` seconds from now (negative: already expired)."""
    from datetime import UTC, datetime, timedelta

    import jwt

    from core.security import TokenCodec
    from tests.harness import TEST_SECRET

    claims = jwt.decode(token, options={"verify_signature": False})
    codec = TokenCodec(TEST_SECRET, claims["iss"], claims["aud"], ttl=60)
    now = datetime.now(UTC) + timedelta(seconds=expires_in) - timedelta(seconds=60)
    return codec.issue(int(claims["sub"]), uuid.UUID(claims["sid"]), now=now)


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
    each (accounts: :func:`new_account`, :func:`logged_in`)."""

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
