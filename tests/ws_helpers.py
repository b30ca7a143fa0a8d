"""Raw WebSocket clients and server processes for the chat server's tests."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import Account
from tests.harness import free_port, service_env

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
    response = await client.post(
        "/register", json={"email": email, "password": "correct horse battery"}
    )
    assert response.status_code == 201, response.text
    token = response.json()["access_token"]
    me = await client.get("/me", headers=bearer(token))
    return int(me.json()["id"]), str(token)


def token_for(token: str, *, expires_in: float) -> str:
    """A token of the same user and session as ``token``, signed with the test
    secret, expiring ``expires_in`` seconds from now (negative: already expired)."""
    import uuid
    from datetime import UTC, datetime, timedelta

    import jwt

    from core.security import TokenCodec
    from tests.harness import TEST_SECRET

    claims = jwt.decode(token, options={"verify_signature": False})
    codec = TokenCodec(TEST_SECRET, claims["iss"], claims["aud"], ttl=60)
    now = datetime.now(UTC) + timedelta(seconds=expires_in) - timedelta(seconds=60)
    return codec.issue(int(claims["sub"]), uuid.UUID(claims["sid"]), now=now)
