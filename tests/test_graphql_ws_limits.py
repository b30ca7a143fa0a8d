"""GraphQL over WebSocket has the chat server's caps and backpressure, on
servers of their own (small limits), through raw graphql-transport-ws
clients: connections per user (across processes with Redis), operations
per socket, and a bounded outbox that closes a reader that stopped reading."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.account_helpers import bearer, register
from tests.authz_world import subscriber
from tests.conftest import Account
from tests.harness import Service, scratch_database
from tests.helpers import rest_post
from tests.process_helpers import ServerProcess, process_env, server_group, server_process

PER_USER = 2
TOTAL = 5
MAX_OPERATIONS = 2
QUEUE_BYTES = 16 * 1024
TIMEOUT = 10
PROTOCOL = "graphql-transport-ws"
ROOM_MESSAGES = 'subscription { roomMessages(room: "general") { id content } }'
# Each event written 12 times over (aliases): ~48 KB a message for the stalled client.
BULKY = (
    'subscription { roomMessages(room: "general") { id '
    + " ".join(f"c{i}: content" for i in range(12))
    + " } }"
)

LIMITS = {
    "GRAPHQL_WS_MAX_CONNECTIONS_PER_USER": str(PER_USER),
    "GRAPHQL_WS_MAX_CONNECTIONS": str(TOTAL),
    "GRAPHQL_WS_MAX_SUBSCRIPTIONS": str(MAX_OPERATIONS),
    "GRAPHQL_WS_MAX_QUEUE_BYTES": str(QUEUE_BYTES),
    "MESSAGES_PER_WINDOW": "100000",
    "REGISTER_IP_MAX": "1000",
    # The stalled client answers no ping either: the keepalive must not cut
    # it before it is found slow, however long a loaded machine takes.
    "WS_PING_INTERVAL": "300",
    "WS_PING_TIMEOUT": "300",
}


@pytest.fixture(scope="module")
async def limited(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("gql-ws-limits")
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp) as url:
        async with server_process(process_env(url, tmp, **LIMITS)) as server:
            yield server


def graphql_ws(server: ServerProcess) -> str:
    return server.http_url.replace("http://", "ws://", 1) + "/graphql"


async def receive(ws: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message.get("type") != "ping":
            return message
        await ws.send(json.dumps({"type": "pong"}))


async def open_graphql(server: ServerProcess, token: str, **kwargs: Any) -> ClientConnection:
    """A connection past ``connection_init`` (acknowledged or not: see the next message)."""
    ws = await connect(graphql_ws(server), subprotocols=[PROTOCOL], **kwargs)  # type: ignore[list-item]
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    return ws


async def acked(server: ServerProcess, token: str, **kwargs: Any) -> ClientConnection:
    ws = await open_graphql(server, token, **kwargs)
    assert (await receive(ws))["type"] == "connection_ack"
    return ws


async def refused_with(ws: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def count_until_closed(ws: ClientConnection) -> int:
    """The ``next`` messages a client reads before the server's close."""
    nexts = 0
    try:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            nexts += message.get("type") == "next"
    except ConnectionClosed:
        return nexts
    except TimeoutError:
        raise AssertionError(f"not closed after {nexts} next messages") from None


async def subscribe(ws: ClientConnection, op_id: str, query: str = ROOM_MESSAGES) -> None:
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}}))


async def user(server: ServerProcess) -> str:
    async with server.client() as http:
        _, token = await register(http, f"u-{uuid.uuid4().hex[:10]}@example.com")
    return token


async def general(server: ServerProcess, token: str) -> None:
    async with server.client() as http:
        response = await http.post("/chat/rooms", json={"name": "general"}, headers=bearer(token))
        assert response.status_code in {201, 409}, response.text


@pytest.mark.slow
async def test_a_user_holds_at_most_the_cap_of_connections(limited: ServerProcess) -> None:
    alice, bob = await user(limited), await user(limited)
    first = await acked(limited, alice)
    second = await acked(limited, alice)
    try:
        third = await open_graphql(limited, alice)
        assert await refused_with(third) == 4429
        other = await acked(limited, bob)  # the cap is per user
        await other.close()
        await first.close()
        for _ in range(100):  # the slot is given back once the server saw the close
            again = await open_graphql(limited, alice)
            message = None
            try:
                message = await receive(again)
            except ConnectionClosed:
                await asyncio.sleep(0.05)
                continue
            assert message["type"] == "connection_ack"
            await again.close()
            break
        else:
            raise AssertionError("a closed connection's slot was never given back")
    finally:
        await second.close()


@pytest.mark.slow
async def test_a_process_holds_at_most_the_cap_of_connections(limited: ServerProcess) -> None:
    tokens = [await user(limited) for _ in range(3)]
    held: list[ClientConnection] = []
    try:
        for token in (tokens[0], tokens[0], tokens[1], tokens[1], tokens[2]):
            for _ in range(100):  # earlier tests' slots are given back asynchronously
                ws = await open_graphql(limited, token)
                try:
                    assert (await receive(ws))["type"] == "connection_ack"
                except ConnectionClosed:
                    await asyncio.sleep(0.05)
                    continue
                held.append(ws)
                break
        assert len(held) == TOTAL
        assert await refused_with(await open_graphql(limited, tokens[2])) == 1013
    finally:
        for ws in held:
            await ws.close()
    await asyncio.sleep(0.3)


@pytest.mark.slow
async def test_a_socket_runs_at_most_the_cap_of_operations(limited: ServerProcess) -> None:
    token = await user(limited)
    await general(limited, token)
    ws = await acked(limited, token)
    try:
        for op_id in ("a", "b"):
            await subscribe(ws, op_id)
        await subscribe(ws, "c")
        error = await receive(ws)
        assert error["type"] == "error", error
        assert error["id"] == "c", error
        assert error["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert str(MAX_OPERATIONS) in error["payload"][0]["message"]

        await ws.send(json.dumps({"id": "a", "type": "complete"}))
        await asyncio.sleep(0.2)
        await subscribe(ws, "d")  # a slot is free again
        await asyncio.sleep(0.3)
        async with limited.client() as http:
            message_id = await rest_post(http, token, "general", "hello")
        got = {}
        for _ in range(2):
            message = await receive(ws)
            assert message["type"] == "next", message
            got[message["id"]] = message["payload"]["data"]["roomMessages"]["id"]
        assert got == {"b": str(message_id), "d": str(message_id)}
    finally:
        await ws.close()


@pytest.mark.slow
async def test_a_reader_that_stops_reading_is_closed_and_others_are_served(
    limited: ServerProcess,
) -> None:
    token = await user(limited)
    await general(limited, token)
    # The stalled client: a tiny receive buffer and no reading at all.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", urlsplit(limited.http_url).port or 80))
    # No pings of its own: its keepalive would give up on pongs stuck behind
    # what it does not read, and end the connection itself (1006).
    stalled = await acked(limited, token, sock=sock, max_queue=1, ping_interval=None)
    reader = await acked(limited, await user(limited))
    try:
        await subscribe(stalled, "slow", BULKY)
        await subscribe(reader, "fast")
        await asyncio.sleep(0.3)
        count, content = 200, "x" * 4000  # ~10 MB to the stalled client: past any buffer
        received: list[str] = []

        async def read_all() -> None:
            while len(received) < count:
                message = await receive(reader, 30)
                received.append(message["payload"]["data"]["roomMessages"]["id"])

        async def send_all() -> list[int]:
            async with limited.client() as http:
                return [await rest_post(http, token, "general", content) for _ in range(count)]

        sent, _ = await asyncio.gather(send_all(), read_all())
        assert received == [str(i) for i in sent]  # the reader missed nothing

        nexts = await count_until_closed(stalled)
        assert stalled.close_code == 1008
        assert nexts < count
    finally:
        await stalled.close()
        await reader.close()


@pytest.mark.slow
async def test_the_per_user_cap_holds_across_processes(tmp_path: Path) -> None:
    async with server_group(tmp_path, 2, "gqlcap", **LIMITS) as (one, two):
        token = await user(one)
        on_one, on_two = await acked(one, token), await acked(two, token)
        try:
            assert await refused_with(await open_graphql(one, token)) == 4429
            assert await refused_with(await open_graphql(two, token)) == 4429
            await on_one.close()
            for _ in range(100):
                again = await open_graphql(two, token)
                try:
                    assert (await receive(again))["type"] == "connection_ack"
                except ConnectionClosed:
                    await asyncio.sleep(0.05)
                    continue
                await again.close()
                break
            else:
                raise AssertionError("the other process never saw the slot given back")
        finally:
            await on_two.close()


def nested(depth: int) -> str:
    return "x { " * depth + "id" + " }" * depth


LIMITED_DOCUMENTS = {
    "depth 20": "subscription { " + nested(20) + " }",
    "1,000 aliases": "subscription { " + " ".join(f"a{i}: x" for i in range(1000)) + " }",
    "5,000 tokens": "subscription { " + "x " * 4998 + "}",
    "100 directives": "subscription { x " + "@skip(if: false) " * 100 + "}",
    "fragment cycle": (
        "subscription { ...A } fragment A on Subscription { ...B } "
        'fragment B on Subscription { roomMessages(room: "r") { id } ...A }'
    ),
    "aliases through fragments": (
        "subscription { ...F ...F ...F ...F } fragment F on Subscription "
        "{ a: x b: x c: x d: x e: x }"
    ),
}


@pytest.mark.checklist(13, "graphql")
async def test_graphql_limits_hold_on_subscriptions(service: Service, member: Account) -> None:
    for name, query in LIMITED_DOCUMENTS.items():
        async with subscriber(service) as client:
            await client.send({"type": "connection_init", "payload": member.headers})
            assert (await client.receive())["type"] == "connection_ack"
            await client.send({"id": "1", "type": "subscribe", "payload": {"query": query}})
            if name in {"1,000 aliases", "5,000 tokens"}:
                # over 2,000 tokens, graphql-core stops parsing: a syntax error,
                # which graphql-transport-ws answers by closing with 4400
                assert await client.close_code() == 4400
                continue
            reply = await client.receive()
            assert reply["type"] == "error", (name, reply)
            codes = {(e.get("extensions") or {}).get("code") for e in reply["payload"]}
            assert codes == {"BAD_USER_INPUT"}, name
            messages = " ".join(e["message"] for e in reply["payload"])
            # refused by a limit, before validation looks at the (made-up) fields
            assert "Cannot query field" not in messages, (name, messages)
