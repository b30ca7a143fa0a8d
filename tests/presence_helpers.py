"""Helpers of the presence and typing tests: a GraphQL WebSocket client, rooms."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import Account
from tests.harness import Service
from tests.ws_helpers import recv

PROTOCOL = "graphql-transport-ws"
TIMEOUT = 10
ADD_MEMBER = "mutation ($r: String!, $u: ID!) { addRoomMember(room: $r, userId: $u) { id } }"


class GqlSocket:
    """A bare graphql-transport-ws client, past ``connection_ack``."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    async def send(self, message: dict[str, Any]) -> None:
        await self.conn.send(json.dumps(message))

    async def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.conn.recv(), timeout))
            if message.get("type") != "ping":
                return message
            await self.send({"type": "pong"})

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any]) -> None:
        payload = {"query": query, "variables": variables}
        await self.send({"id": op_id, "type": "subscribe", "payload": payload})

    async def next_data(self, op_id: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        message = await self.receive(timeout)
        assert message.get("id") == op_id, message
        assert message["type"] == "next", message
        assert not message["payload"].get("errors"), message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def nothing_within(self, seconds: float) -> None:
        try:
            message = await asyncio.wait_for(self.conn.recv(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message {message!r}")


def gql_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/graphql"


@asynccontextmanager
async def gql_socket(http_url: str, token: str) -> AsyncIterator[GqlSocket]:
    async with connect(gql_url(http_url), subprotocols=[PROTOCOL], open_timeout=TIMEOUT) as conn:  # type: ignore[list-item]
        client = GqlSocket(conn)
        await client.send(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        ack = await client.receive()
        assert ack["type"] == "connection_ack", ack
        yield client


async def came_online(ws: ClientConnection, own_id: int) -> dict[str, Any]:
    """The next presence change on a chat socket, past the socket owner's own
    coming online: that change is announced after the owner's socket opened,
    so it may reach the owner's own presence feed (first: changes go out in
    order)."""
    frame = await recv(ws)
    if frame.get("type") == "presence_changed" and frame["user_id"] == own_id:
        assert frame["online"] is True, frame
        frame = await recv(ws)
    return frame


async def settle(service: Service, subscribers: int) -> None:
    """Wait until ``subscribers`` GraphQL subscriptions are live in this process."""
    fanout = service.app.state.graphql.live_sockets.fanout
    for _ in range(500):
        if fanout.subscribers >= subscribers:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{fanout.subscribers} subscribers, expected {subscribers}")


async def room_with(
    http: httpx.AsyncClient, owner: Account, name: str, *members: Account, private: bool = False
) -> int:
    """A room of ``owner`` with ``members`` added: its id."""
    response = await http.post(
        "/chat/rooms", json={"name": name, "is_private": private}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    room_id = int(response.json()["id"])
    for member in members:
        added = await http.post(
            "/graphql",
            json={"query": ADD_MEMBER, "variables": {"r": str(room_id), "u": str(member.id)}},
            headers=owner.headers,
        )
        assert not added.json().get("errors"), added.text
    return room_id


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed.astimezone(UTC)
