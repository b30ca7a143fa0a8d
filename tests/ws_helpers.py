"""Raw WebSocket clients of the chat server, and chat steps built on them."""

from __future__ import annotations

import asyncio
import itertools
import json
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.account_helpers import bearer
from tests.conftest import Account

TIMEOUT = 5.0
_refs = itertools.count(1)


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
