"""A leave while the broker is away still ends the leaver's live feeds.

Leaving a room publishes ``MemberLeft`` on the room's channel
(``resolvers.membership_events``); it is a signal, never stored, so when
Redis is down at that moment it is lost, and unlike a message no gap shows
it. Once the broker is back, each room feed asks the database which of its
listeners' users are still members, *before* it fills in what was stored
meanwhile (``resolvers.live.feed``). Like ``tests/test_live_faults.py``,
this starts its own ``redis-server`` on a free port, kills it and starts it
again, with a server process on the suite's database (SQLite or
PostgreSQL: the broker is Redis in both runs, since an in-process
``memory://`` broker cannot go away).

- the leaver's chat WebSocket detaches the room and gets ``left`` (no
  ``ref``); their GraphQL subscription of it ends with NOT_FOUND;
- nothing stored after the leave reaches them, not even what the feed
  fills in from the database on recovery;
- a member who stayed gets everything; a reader of the public room who
  never joined it keeps their subscription (they did not leave).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.account_helpers import bearer, register
from tests.helpers import rest_post
from tests.live_helpers import ROOM_SUB, gql_recorder, server_on_broker, wait_for
from tests.ws_helpers import open_ws, recv, request

pytestmark = pytest.mark.slow

JOIN = "mutation ($r: String!) { joinRoom(room: $r) { id } }"


class Frames:
    """Every frame a chat WebSocket receives, kept in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                self.frames.append(await recv(self.ws, timeout=3600))
        except ConnectionClosed:
            pass

    def ids(self, kind: str) -> list[int]:
        return [f["id"] for f in self.frames if f["type"] == kind]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.ws.close()


async def joined_socket(ws_url: str, token: str, room: str) -> Frames:
    ws = await open_ws(ws_url, token)
    assert (await recv(ws))["type"] == "ready"
    reply = await request(ws, {"type": "join", "room": room, "ref": "j"})
    assert reply["type"] == "joined", reply
    return Frames(ws)


async def test_a_leave_during_a_broker_outage_ends_the_leavers_feeds(tmp_path: Path) -> None:
    async with (
        asyncio.timeout(120),
        server_on_broker(
            tmp_path,
            MESSAGES_PER_WINDOW="100000",
            BROKER_GRACE_SECONDS="60",
            LOG_LEVEL="info",
        ) as on,
    ):
        broker, server, http = on.broker, on.server, on.http
        _, alice = await register(http, "alice@example.com")
        bob_id, bob = await register(http, "bob@example.com")
        _, carol = await register(http, "carol@example.com")
        created = await http.post("/chat/rooms", json={"name": "general"}, headers=bearer(alice))
        assert created.status_code == 201, created.text
        room_id = created.json()["id"]
        joined = await http.post(
            "/graphql", json={"query": JOIN, "variables": {"r": "general"}}, headers=bearer(bob)
        )
        assert not joined.json().get("errors"), joined.text

        # Bob, a member, on both live doors; alice, a member who stays;
        # carol reads the public room without ever joining it.
        bob_ws = await joined_socket(server.ws_url, bob, "general")
        alice_ws = await joined_socket(server.ws_url, alice, "general")
        bob_gql = await gql_recorder(server.http_url, bob)
        await bob_gql.subscribe("room", ROOM_SUB, {"room": "general"})
        carol_gql = await gql_recorder(server.http_url, carol)
        await carol_gql.subscribe("room", ROOM_SUB, {"room": "general"})
        bob_gql.start()
        carol_gql.start()
        # Subscriptions go live asynchronously: post until both hear one.
        heard = 0
        while not (heard in bob_gql.streams["room"] and heard in carol_gql.streams["room"]):
            heard = await rest_post(http, alice, "general", "before")
            await asyncio.sleep(0.1)
        await wait_for(lambda: heard in bob_ws.ids("message") and heard in alice_ws.ids("message"))

        await broker.kill()
        ready = await http.get("/ready")  # the leave's MemberLeft cannot be published
        assert ready.json()["broker"] == "down", ready.text
        left = await http.delete("/chat/rooms/general/members/me", headers=bearer(bob))
        assert left.status_code == 200, left.text  # its MemberLeft is lost
        after = [await rest_post(http, alice, "general", f"after {n}") for n in range(3)]
        await broker.start()

        # Back: bob's feeds end, before anything stored after the leave.
        told = {"type": "left", "room": "general", "room_id": room_id}
        await wait_for(lambda: told in bob_ws.frames, timeout=30)
        await wait_for(lambda: "room" in bob_gql.errors, timeout=30)
        assert bob_gql.errors["room"] == ["NOT_FOUND"]
        # Alice and carol get what was stored meanwhile, and what follows.
        later = await rest_post(http, alice, "general", "later")
        expected = [*after, later]
        await wait_for(lambda: alice_ws.ids("message")[-4:] == expected, timeout=30)
        await wait_for(lambda: carol_gql.streams["room"][-4:] == expected, timeout=30)
        assert "room" not in carol_gql.errors
        # Bob got none of it, on either door (checked after alice got it all).
        assert not set(expected) & set(bob_ws.ids("message"))
        assert not set(expected) & set(bob_gql.streams["room"])
        # Bob's socket is still open: a DM still reaches it.
        dm = await http.post(f"/chat/dm/{bob_id}", json={"content": "psst"}, headers=bearer(alice))
        assert dm.status_code == 201, dm.text
        await wait_for(lambda: dm.json()["id"] in bob_ws.ids("dm"))
        for recorder in (bob_ws, alice_ws):
            await recorder.stop()
        for gql in (bob_gql, carol_gql):
            await gql.stop()
