"""Helpers for the live-feed tests: a private redis-server (and a server
process on it), and recorders that keep what a chat WebSocket client or a
GraphQL subscriber receives."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from schema.fanout import Fanout
from tests.account_helpers import bearer
from tests.harness import Service, free_port, scratch_database
from tests.process_helpers import ServerProcess, process_env, server_process
from tests.ws_helpers import open_ws, recv, request

TIMEOUT = 20


class RedisServer:
    """``redis-server`` on a free loopback port, in a process of its own.

    Never the shared one on 6379: this one is killed and restarted at will.
    """

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self._dir = tmp
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self._dir),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        try:
            for _ in range(100):
                with contextlib.suppress(Exception):
                    if await client.ping():
                        return
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        raise AssertionError("redis-server did not start")

    async def kill(self) -> None:
        """SIGKILL: the broker vanishes mid-traffic, as in the outside attack."""
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGKILL)
            await process.wait()


@asynccontextmanager
async def redis_server(tmp: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp)
    await server.start()
    try:
        yield server
    finally:
        await server.kill()


@dataclass
class OnBroker:
    """One server process on a redis-server of its own, and an HTTP client of it."""

    broker: RedisServer
    server: ServerProcess
    http: httpx.AsyncClient


@asynccontextmanager
async def server_on_broker(tmp: Path, **overrides: str) -> AsyncIterator[OnBroker]:
    """A private :class:`RedisServer` (to kill and restart at will) and one
    server process using it as its broker, on a scratch database of the
    suite's server (SQLite or PostgreSQL); the server's log in
    ``tmp/server.log``. ``overrides`` are its environment's."""
    async with (
        redis_server(tmp) as broker,
        scratch_database(os.environ.get("DATABASE_URL"), tmp) as database_url,
    ):
        env = process_env(database_url, tmp, BROADCAST_URL=broker.url, **overrides)
        async with (
            server_process(env, log=tmp / "server.log") as server,
            server.client() as http,
        ):
            yield OnBroker(broker, server, http)


# --- recorders ------------------------------------------------------------------------


@dataclass
class WsRecorder:
    """A chat WebSocket client that joins rooms and records what it gets."""

    ws: ClientConnection
    rooms: dict[int, list[int]] = field(default_factory=dict)
    dms: list[int] = field(default_factory=list)
    closed: int | None = None
    task: asyncio.Task[None] | None = None

    async def join(self, room: str, room_id: int, after: int) -> None:
        """Join with ``after``: the record is then every message after it."""
        self.rooms[room_id] = []
        reply = await request(self.ws, {"type": "join", "room": room, "after": after})
        assert reply["type"] == "joined", reply

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                frame = await recv(self.ws, timeout=3600)
                if frame["type"] == "message":
                    self.rooms[frame["room_id"]].append(frame["id"])
                elif frame["type"] == "dm":
                    self.dms.append(frame["id"])
        except ConnectionClosed as closed:
            self.closed = closed.rcvd.code if closed.rcvd is not None else 1006

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.ws.close()


async def ws_recorder(ws_url: str, token: str) -> WsRecorder:
    ws = await open_ws(ws_url, token)
    first = await recv(ws)
    assert first["type"] == "ready", first
    return WsRecorder(ws)


ROOM_SUB = """
subscription ($room: String!, $after: ID) { roomMessages(room: $room, after: $after) { id } }
"""
DM_SUB = "subscription ($after: ID) { directMessages(after: $after) { id } }"


@dataclass
class GqlRecorder:
    """A graphql-transport-ws client with subscriptions that records ids."""

    conn: ClientConnection
    streams: dict[str, list[int]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    closed: int | None = None
    task: asyncio.Task[None] | None = None

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any]) -> None:
        self.streams[op_id] = []
        message = {"id": op_id, "type": "subscribe"}
        await self.conn.send(
            json.dumps({**message, "payload": {"query": query, "variables": variables}})
        )

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for raw in self.conn:
                message = json.loads(raw)
                kind, op_id = message.get("type"), message.get("id")
                if kind == "ping":
                    await self.conn.send(json.dumps({"type": "pong"}))
                elif kind == "next":
                    payload = message["payload"]
                    if payload.get("errors"):
                        codes = [e["extensions"]["code"] for e in payload["errors"]]
                        self.errors.setdefault(op_id, []).extend(codes)
                        continue
                    (value,) = payload["data"].values()
                    self.streams[op_id].append(int(value["id"]))
                elif kind == "error":
                    codes = [e["extensions"]["code"] for e in message["payload"]]
                    self.errors.setdefault(op_id, []).extend(codes)
        except ConnectionClosed as closed:
            self.closed = closed.rcvd.code if closed.rcvd is not None else 1006
        else:
            self.closed = self.conn.close_code

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.conn.close()


async def gql_recorder(http_url: str, token: str) -> GqlRecorder:
    url = http_url.replace("http://", "ws://", 1) + "/graphql"
    conn = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await conn.send(json.dumps({"type": "connection_init", "payload": bearer(token)}))
    ack = json.loads(await asyncio.wait_for(conn.recv(), TIMEOUT))
    assert ack["type"] == "connection_ack", ack
    return GqlRecorder(conn)


async def wait_for(condition: Any, timeout: float = TIMEOUT, step: float = 0.05) -> float:
    """Poll ``condition()`` until true; the seconds it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not condition():
        if loop.time() - start > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)
    return loop.time() - start


async def stored_ids(http: httpx.AsyncClient, token: str, path: str) -> list[int]:
    """Every message id of a REST history path, oldest first, page by page."""
    ids: list[int] = []
    while True:
        params: dict[str, Any] = {"limit": 100, "after": ids[-1] if ids else 0}
        page = await http.get(path, params=params, headers=bearer(token))
        assert page.status_code == 200, page.text
        batch = [m["id"] for m in page.json()]
        ids += batch
        if len(batch) < 100:
            return ids


def fanout(service: Service) -> Fanout:
    sockets = service.app.state.graphql.live_sockets
    result: Fanout = sockets.fanout
    return result


async def settle(service: Service, subscribers: int) -> None:
    """Wait until ``subscribers`` subscriptions are registered in groups."""
    for _ in range(200):
        if fanout(service).subscribers == subscribers:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{fanout(service).subscribers} subscribers, expected {subscribers}")
