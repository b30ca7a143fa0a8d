"""Presence and typing across two processes on PostgreSQL + Redis, and the
time a SIGKILLed process's users take to go offline.

Skipped when the suite's BROADCAST_URL is not Redis: with the in-memory
broker there is no second process to share presence with.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.presence_leases import SWEEP_SECONDS as SWEEP
from tests.account_helpers import bearer, register
from tests.process_helpers import two_processes
from tests.ws_helpers import chat_client, open_ws, recv, request

BROADCAST = os.environ.get("BROADCAST_URL", "")
LEASE = 3  # PRESENCE_LEASE_SECONDS of both processes

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        urlsplit(BROADCAST).scheme not in {"redis", "rediss"},
        reason="cross-process presence needs BROADCAST_URL=redis://",
    ),
]


async def test_presence_and_typing_cross_processes_and_a_sigkill_goes_offline(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    shared = {"PRESENCE_LEASE_SECONDS": str(LEASE), "PRESENCE_GRACE_SECONDS": "1"}
    async with two_processes(tmp_path, "presence", **shared) as pair:
        one, two, http1, http2 = pair.one, pair.two, pair.http1, pair.http2
        bob_id, bob = await register(http1, "bob@example.com")
        _, alice = await register(http2, "alice@example.com")
        room = await http1.post("/chat/rooms", json={"name": "general"}, headers=bearer(bob))
        assert room.status_code == 201, room.text
        room_id = room.json()["id"]
        async with chat_client(two.ws_url, alice) as watcher:
            assert (await request(watcher, {"type": "join", "room": "general"}))["type"] == (
                "joined"
            )
            listed = await request(watcher, {"type": "presence", "room": "general"})
            assert {u["id"]: u["online"] for u in listed["users"]}[bob_id] is False

            # Bob connects to process one: alice, on process two, hears of it.
            bob_ws = await open_ws(one.ws_url, bob)
            assert (await recv(bob_ws))["type"] == "ready"
            came = await recv(watcher)
            assert (came["type"], came["user_id"], came["online"]) == (
                "presence_changed",
                bob_id,
                True,
            )
            assert came["room_id"] == room_id
            seen = await http2.get("/chat/rooms/general/presence", headers=bearer(alice))
            assert {u["id"]: u["online"] for u in seen.json()["users"]}[bob_id] is True

            # Bob types through process one's REST door: alice gets it on process two.
            typed = await http1.post("/chat/rooms/general/typing", headers=bearer(bob))
            assert typed.status_code == 202
            got = await recv(watcher)
            assert (got["type"], got["from_user"]) == ("typing", bob_id)
            assert got["expires_at"] == typed.json()["expires_at"]

            # Process one dies without closing anything: bob goes offline
            # once his lease runs out, swept by process two.
            loop = asyncio.get_running_loop()
            await one.stop(signal.SIGKILL)
            killed = loop.time()
            went = await recv(watcher, timeout=LEASE + 10)
            took = loop.time() - killed
            assert (went["type"], went["user_id"], went["online"]) == (
                "presence_changed",
                bob_id,
                False,
            )
            record_property("sigkill_offline_seconds", round(took, 2))
            sys.stderr.write(f"\nSIGKILL -> offline in {took:.2f} s (lease {LEASE} s)\n")
            assert took <= LEASE + SWEEP + 1.0, took
            with_presence = await http2.get("/chat/rooms/general/presence", headers=bearer(alice))
            assert {u["id"]: u["online"] for u in with_presence.json()["users"]}[bob_id] is False
            await bob_ws.close()
