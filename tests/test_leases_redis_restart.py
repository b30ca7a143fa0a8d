"""Presence and the shared connection caps work again after Redis restarts.

Both keep their leases in Redis (``core.presence_leases``,
``core.leases``): a Redis restarted without persistence comes back empty,
and every process must find its way back to it. Like
``tests/test_live_faults.py``, this starts its own ``redis-server`` on a free
port, kills it and starts it again (empty), while users are connected to
two server processes sharing it and the suite's database. Afterwards:

- a user who connects is seen online by a member of their room on the
  other process: live (``presence_changed`` on the chat WebSocket) and in
  the room's presence listing;
- a user connected since before the restart is listed online again (their
  process renews its leases into the emptied Redis);
- the per-user connection cap still counts across both processes: a user
  with one connection on each is refused a third (429) on either.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.account_helpers import new_account
from tests.conftest import Account
from tests.helpers import rest_post
from tests.live_helpers import redis_server
from tests.presence_helpers import room_with
from tests.process_helpers import two_processes
from tests.ws_helpers import chat_client, handshake_status, join, open_ws, recv, request

pytestmark = pytest.mark.slow

PER_USER = 2
SETTINGS = {
    "WS_MAX_CONNECTIONS_PER_USER": str(PER_USER),
    "PRESENCE_LEASE_SECONDS": "3",  # renewed every second
    "PRESENCE_GRACE_SECONDS": "1",
    "BROKER_GRACE_SECONDS": "60",
}


async def next_frame(ws: ClientConnection, wanted: Any, timeout: float = 30) -> dict[str, Any]:
    """The first frame for which ``wanted(frame)`` holds (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await recv(ws, timeout)
            if wanted(frame):
                return frame


async def online(http: httpx.AsyncClient, who: Account) -> dict[int, bool]:
    """The room's presence listing, as ``who`` reads it: user id -> online."""
    listed = await http.get("/chat/rooms/general/presence", headers=who.headers)
    assert listed.status_code == 200, listed.text
    return {int(u["id"]): u["online"] for u in listed.json()["users"]}


async def ready_again(http: httpx.AsyncClient) -> None:
    """Wait until the process's ``/ready`` says it has its broker back."""
    for _ in range(300):
        if (await http.get("/ready")).status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the process did not see the broker come back")


async def test_presence_and_caps_work_again_after_redis_restarts(tmp_path: Path) -> None:
    async with (
        redis_server(tmp_path) as broker,
        two_processes(
            tmp_path,
            "leases",
            database=os.environ.get("DATABASE_URL") or "sqlite://",
            BROADCAST_URL=broker.url,
            **SETTINGS,
        ) as pair,
    ):
        one, two, http1, http2 = pair.one, pair.two, pair.http1, pair.http2
        alice = await new_account(http2, "alice@example.com")
        bob = await new_account(http1, "bob@example.com")
        carol = await new_account(http1, "carol@example.com")
        await room_with(http2, alice, "general", bob, carol)

        # Alice watches the room on process two; carol connects to process one.
        async with chat_client(two.ws_url, alice.token) as watcher:
            await join(watcher, "general")
            listed = await request(watcher, {"type": "presence", "room": "general"})
            assert listed["type"] == "presence", listed  # and its changes from now on
            carol_one = await open_ws(one.ws_url, carol.token)
            assert (await recv(carol_one))["type"] == "ready"
            await next_frame(
                watcher, lambda f: f["type"] == "presence_changed" and f["user_id"] == carol.id
            )

            await broker.kill()
            await broker.start()  # empty: no lease of anyone

            # Both processes are back on the broker: a message reaches alice.
            for http in (http1, http2):
                await ready_again(http)
            marker = await rest_post(http1, carol, "general", "back")
            await next_frame(watcher, lambda f: f["type"] == "message" and f["id"] == marker)

            # Bob connects now, to process one: alice, on process two, hears of it.
            bob_one = await open_ws(one.ws_url, bob.token)
            assert (await recv(bob_one))["type"] == "ready"
            came = await next_frame(
                watcher, lambda f: f["type"] == "presence_changed" and f["user_id"] == bob.id
            )
            assert came["online"] is True
            assert (await online(http2, alice))[bob.id] is True
            # Carol, connected all along, is listed online again once renewed.
            for _ in range(100):
                if (await online(http2, alice))[carol.id]:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("carol's lease was not renewed into the new Redis")

            # Bob's cap counts his connections on both processes again.
            bob_two = await open_ws(two.ws_url, bob.token)
            assert (await recv(bob_two))["type"] == "ready"
            for server in (one, two):
                assert await handshake_status(server.ws_url, bob.headers) == 429
            for ws in (bob_one, bob_two, carol_one):
                await ws.close()
