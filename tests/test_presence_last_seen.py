"""Last seen survives a restart, a Redis flush and a SIGKILL (issue 15).

A user who went offline is reported, on every door, with the last-seen time
presence announced when they went offline, also by a server started after
the one that saw them (on SQLite with the embedded memory store, which
keeps nothing across a restart) and after the Redis presence keys are gone.
A clean stop stores the last seen of the users still connected; a SIGKILLed
process's users get theirs from the process that sweeps their leases.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from redis.asyncio import Redis

from tests.account_helpers import bearer, register
from tests.harness import free_port, scratch_database
from tests.presence_helpers import parse_time
from tests.process_helpers import process_env, server_process, two_processes
from tests.ws_helpers import chat_client, join, open_ws, recv, request

pytestmark = pytest.mark.slow

BROADCAST = os.environ.get("BROADCAST_URL", "")
ON_REDIS = urlsplit(BROADCAST).scheme in {"redis", "rediss"}
SAME = timedelta(milliseconds=1)  # stored and announced: one instant
SLACK = timedelta(seconds=2)
LEASE = 3  # PRESENCE_LEASE_SECONDS of the SIGKILL test's processes
ROOM_PRESENCE = """
query ($room: String!) { roomPresence(room: $room) { online lastSeen user { id } } }
"""


async def _forget_redis_presence(prefix: str) -> None:
    """What a Redis flush does to presence: every key of it gone."""
    if not ON_REDIS:
        return
    redis = Redis.from_url(BROADCAST)
    try:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:presence:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def _general(http: httpx.AsyncClient, owner: str) -> None:
    created = await http.post("/chat/rooms", json={"name": "general"}, headers=bearer(owner))
    assert created.status_code == 201, created.text


def _moved(env: dict[str, str]) -> dict[str, str]:
    """The same server configuration, on fresh ports (the restart)."""
    return {**env, "PORT": str(free_port()), "WS_PORT": str(free_port())}


async def _offline_event(watcher: Any, user_id: int, timeout: float = 10) -> dict[str, Any]:
    while True:
        frame = await recv(watcher, timeout=timeout)
        if frame["type"] == "presence_changed" and frame["user_id"] == user_id:
            if not frame["online"]:
                return frame


def _seen(users: list[dict[str, Any]], user_id: int, key: str = "last_seen") -> datetime:
    (user,) = [u for u in users if int(u["id"] if "id" in u else u["user"]["id"]) == user_id]
    assert user["online"] is False, user
    assert user[key] is not None, user
    return parse_time(user[key])


async def test_last_seen_is_reported_on_every_door_after_a_restart(tmp_path: Path) -> None:
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url:
        env = process_env(database_url, tmp_path, PRESENCE_GRACE_SECONDS="1")
        prefix = env["PUBSUB_PREFIX"]
        async with server_process(env) as first, first.client() as http:
            alice_id, alice = await register(http, "alice@example.com")
            bob_id, bob = await register(http, "bob@example.com")
            await _general(http, alice)
            async with chat_client(first.ws_url, alice) as watcher:
                await join(watcher, "general")
                async with chat_client(first.ws_url, bob) as bob_ws:
                    await join(bob_ws, "general")
                    listed = await request(watcher, {"type": "presence", "room": "general"})
                    assert {u["id"]: u["online"] for u in listed["users"]}[bob_id] is True
                closed = datetime.now(UTC)
                went = await _offline_event(watcher, bob_id)
                offline_at = parse_time(went["last_seen"])
                assert abs(offline_at - closed) < SLACK, (offline_at, closed)
                # Alice is still connected when the server stops (cleanly).
                stopping = datetime.now(UTC)
                await first.stop()
                stopped = datetime.now(UTC)
        await _forget_redis_presence(prefix)

        async with server_process(_moved(env)) as second, second.client() as http:
            rest = await http.get("/chat/rooms/general/presence", headers=bearer(alice))
            assert rest.status_code == 200, rest.text
            users = rest.json()["users"]
            assert abs(_seen(users, bob_id) - offline_at) <= SAME, users
            alice_seen = _seen(users, alice_id)
            assert stopping - SLACK <= alice_seen <= stopped + SLACK, (alice_seen, stopping)

            graphql = await http.post(
                "/graphql",
                json={"query": ROOM_PRESENCE, "variables": {"room": "general"}},
                headers=bearer(alice),
            )
            members = graphql.json()["data"]["roomPresence"]
            assert abs(_seen(members, bob_id, "lastSeen") - offline_at) <= SAME, members

            async with chat_client(second.ws_url, alice) as ws:
                frame = await request(ws, {"type": "presence", "room": "general"})
                assert frame["type"] == "presence", frame
                assert abs(_seen(frame["users"], bob_id) - offline_at) <= SAME, frame


@pytest.mark.skipif(not ON_REDIS, reason="a second process shares presence through Redis")
async def test_the_surviving_process_stores_a_sigkilled_users_last_seen(tmp_path: Path) -> None:
    shared = {"PRESENCE_LEASE_SECONDS": str(LEASE), "PRESENCE_GRACE_SECONDS": "1"}
    async with two_processes(tmp_path, "lastseen", **shared) as pair:
        one, two, http = pair.one, pair.two, pair.http2
        prefix = one.env["PUBSUB_PREFIX"]
        bob_id, bob = await register(http, "bob@example.com")
        _, alice = await register(http, "alice@example.com")
        await _general(http, alice)
        async with chat_client(two.ws_url, alice) as watcher:
            await join(watcher, "general")
            await request(watcher, {"type": "presence", "room": "general"})
            bob_ws = await open_ws(one.ws_url, bob)
            assert (await recv(bob_ws))["type"] == "ready"
            await join(bob_ws, "general")
            await one.stop(signal.SIGKILL)
            killed = datetime.now(UTC)
            went = await _offline_event(watcher, bob_id, timeout=LEASE + 10)
            offline_at = parse_time(went["last_seen"])
            # Last known there: at most one lease renewal before the kill.
            assert killed - timedelta(seconds=LEASE) - SLACK <= offline_at <= killed
            await bob_ws.close()
        await _forget_redis_presence(prefix)
        rest = await http.get("/chat/rooms/general/presence", headers=bearer(alice))
        assert rest.status_code == 200, rest.text
        assert abs(_seen(rest.json()["users"], bob_id) - offline_at) <= SAME, rest.text
