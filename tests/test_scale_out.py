"""Two server processes sharing PostgreSQL and Redis behave as one.

This test always runs on PostgreSQL + Redis, whatever the suite runs on:
the suite's ``DATABASE_URL``/``BROADCAST_URL`` when they name those, else
the local servers CI starts (127.0.0.1:5432 and :6379). Without them it
fails, loudly: scale-out is a feature, not an option.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.account_helpers import bearer, register
from tests.process_helpers import ServerProcess, server_group
from tests.ws_helpers import (
    chat_client,
    close_code,
    handshake_status,
    open_ws,
    recv,
    recv_until,
    request,
    send,
)

pytestmark = pytest.mark.slow

PER_USER = 2


async def _graphql(
    http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=bearer(token)
    )
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


SEND_MESSAGE = """
mutation ($content: String!) { sendMessage(room: "general", content: $content) { id } }
"""
SEND_DM = """
mutation ($to: ID!, $content: String!) { sendDirectMessage(to: $to, content: $content) { id } }
"""


async def test_two_processes_share_messages_dms_revocations_and_caps(tmp_path: Path) -> None:
    overrides = {"WS_MAX_CONNECTIONS_PER_USER": str(PER_USER)}
    async with server_group(tmp_path, 2, "scale", **overrides) as (one, two):
        await _scenario(one, two)


async def _scenario(one: ServerProcess, two: ServerProcess) -> None:
    async with one.client() as http1, two.client() as http2:
        bob_id, bob = await register(http1, "bob@example.com")
        alice_id, alice = await register(http2, "alice@example.com")
        refresh = (
            await http1.post(
                "/login", json={"email": "bob@example.com", "password": "correct horse battery"}
            )
        ).json()
        room = await http1.post("/chat/rooms", json={"name": "general"}, headers=bearer(bob))
        assert room.status_code == 201, room.text

        async with (
            chat_client(one.ws_url, bob) as listener,
            chat_client(two.ws_url, alice) as talker,
        ):
            for ws in (listener, talker):
                assert (await request(ws, {"type": "join", "room": "general"}))["type"] == "joined"
            sent: list[tuple[str, int]] = []

            # Through process two's WebSocket server...
            ack = await request(talker, {"type": "message", "room": "general", "content": "ws"})
            sent.append(("message", ack["id"]))
            ack = await request(talker, {"type": "dm", "to": bob_id, "content": "ws dm"})
            sent.append(("dm", ack["id"]))
            # ... its REST paths ...
            posted = await http2.post(
                "/chat/rooms/general/messages", json={"content": "rest"}, headers=bearer(alice)
            )
            sent.append(("message", posted.json()["id"]))
            posted = await http2.post(
                f"/chat/dm/{bob_id}", json={"content": "rest dm"}, headers=bearer(alice)
            )
            sent.append(("dm", posted.json()["id"]))
            # ... and its GraphQL mutations.
            data = await _graphql(http2, alice, SEND_MESSAGE, {"content": "graphql"})
            sent.append(("message", int(data["sendMessage"]["id"])))
            data = await _graphql(http2, alice, SEND_DM, {"to": str(bob_id), "content": "gql dm"})
            sent.append(("dm", int(data["sendDirectMessage"]["id"])))

            # The client on process one got all six, each once.
            got = [await recv(listener) for _ in sent]
            assert sorted((f["type"], f["id"]) for f in got) == sorted(sent)
            assert {f["from_user"] for f in got} == {alice_id}

            # And the other way round: process one to a client of process two.
            await send(listener, {"type": "message", "room": "general", "content": "back"})
            # (the talker joined the room: it got its own three messages first)
            seen = [(await recv(talker, timeout=10)) for _ in range(3 + 3 + 1)]
            mine = [(f["type"], f["id"]) for f in seen[:-1]]
            assert sorted(mine) == sorted(sent)
            assert (seen[-1]["content"], seen[-1]["from_user"]) == ("back", bob_id)

        # A client of process one joining with `after` replays what process two stored.
        async with chat_client(one.ws_url, bob) as late:
            await send(late, {"type": "join", "room": "general", "after": 0, "ref": "j"})
            _, replayed = await recv_until(late, "joined")
            contents = [m["content"] for m in replayed]
            assert contents == ["ws", "rest", "graphql", "back"]

        # A logout on process two closes that session's connections on process one.
        doomed = await open_ws(one.ws_url, refresh["access_token"])
        assert (await recv(doomed))["type"] == "ready"
        out = await http2.post("/logout", json={"refresh_token": refresh["refresh_token"]})
        assert out.status_code == 204
        assert await close_code(doomed, timeout=10) == 4001

        # The per-user connection cap counts the connections on both processes.
        _, carol = await register(http1, "carol@example.com")
        held = [await open_ws(one.ws_url, carol), await open_ws(two.ws_url, carol)]
        assert PER_USER == len(held)
        for server in (one, two):
            assert await handshake_status(server.ws_url, bearer(carol)) == 429
        await held.pop(0).close()
        for _ in range(50):  # released once process one sees the TCP connection end
            if await handshake_status(two.ws_url, bearer(carol)) == 101:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the closed connection's slot was not released")
        await held.pop().close()
