"""A client that only polls sync misses nothing across a SIGKILL (issue 15).

A real server process takes room messages, DMs, edits, reactions and
deletions from senders on every door (REST, GraphQL, the chat WebSocket),
while a reader polls ``GET /chat/sync`` only: no WebSocket, paging back with
history where a room is ``limited``. Midway the process is killed with
SIGKILL and started again on the same ports and database; the senders
retry what was not acknowledged (sends are idempotent by ``client_id``).

Afterwards the reader has seen every stored message and DM exactly once,
every row of each room's change log exactly once, and its view of each
message (content, deleted) equals stored history.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.fault_helpers import DOWN, RETRY_PAUSE, kill, started, until_up
from tests.harness import scratch_database
from tests.ws_helpers import bearer, process_env, register, send

pytestmark = pytest.mark.slow

ROOMS = ("north", "south")
SENDS = 14  # per door
KILL_AFTER = 15  # acknowledged actions, all doors together
TEST_SECONDS = 150
CHANGE_TYPES = {"message_edited", "message_deleted", "reaction"}


async def ok(response: httpx.Response) -> Any:
    if response.status_code >= 500:
        raise httpx.TransportError(f"status {response.status_code}")
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


class Reader:
    """Polls sync only, and keeps what it was told."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http, self.headers = http, bearer(token)
        self.since: str | None = None
        self.messages: dict[int, list[int]] = {}  # room id -> message ids, as seen
        self.last: dict[int, int] = {}
        self.content: dict[int, tuple[str, bool]] = {}
        self.changes: dict[int, list[int]] = {}  # room id -> change event ids
        self.dms: list[int] = []

    async def _older(self, room_id: int, before: int) -> list[dict[str, Any]]:
        """History before ``before`` down to what was seen: the gap of a limited room."""
        older: list[dict[str, Any]] = []
        while True:
            page = await ok(
                await self.http.get(
                    f"/chat/rooms/{room_id}/messages",
                    params={"before": before, "limit": 100},
                    headers=self.headers,
                )
            )
            keep = [m for m in page if m["id"] > self.last.get(room_id, 0)]
            older = keep + older
            if len(keep) < len(page) or len(page) < 100:
                return older
            before = page[0]["id"]

    async def once(self) -> bool:
        params = {"since": self.since} if self.since else {}
        body = await ok(await self.http.get("/chat/sync", params=params, headers=self.headers))
        news = False
        for room in body["rooms"]:
            rid = room["room_id"]
            messages = room["messages"]
            if room["limited"]:
                messages = await self._older(rid, room["before"]) + messages
            for m in messages:
                self.messages.setdefault(rid, []).append(m["id"])
                self.content[m["id"]] = (m["content"], bool(m.get("deleted")))
                self.last[rid] = max(self.last.get(rid, 0), m["id"])
            for c in room["changes"]:
                self.changes.setdefault(rid, []).append(c["event_id"])
                if c["type"] == "message_edited":
                    self.content[c["id"]] = (c["content"], False)
                elif c["type"] == "message_deleted":
                    self.content[c["id"]] = ("", True)
            news = news or bool(messages or room["changes"])
        self.dms += [d["id"] for d in body["dms"]]
        news = news or bool(body["dms"])
        self.since = body["next"]
        return news

    async def poll(self) -> None:
        while True:
            try:
                await self.once()
            except DOWN:
                pass
            await asyncio.sleep(RETRY_PAUSE)


async def gql(http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]) -> Any:
    body = await ok(
        await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=bearer(token)
        )
    )
    assert not body.get("errors"), body
    return body["data"]


async def ws_do(url: str, token: str, frame: dict[str, Any]) -> dict[str, Any]:
    """One frame on a fresh connection, and the reply that carries its ref."""
    async with connect(url, additional_headers=bearer(token)) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        await send(ws, {**frame, "ref": "r"})
        while True:
            reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if reply.get("ref") == "r":
                assert reply["type"] != "error", reply
                return reply


async def test_a_sync_only_client_sees_everything_once_across_sigkill(tmp_path: Path) -> None:
    async with (
        asyncio.timeout(TEST_SECONDS),
        scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url,
        AsyncExitStack() as stack,
    ):
        env = process_env(database_url, tmp_path, MESSAGES_PER_WINDOW="100000")
        server = await started(stack, env, tmp_path / "first.log")
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=server.http_url, timeout=30)
        )
        bob_id, bob = await register(http, "bob@example.com")
        senders = {
            door: await register(http, f"{door}@example.com") for door in ("rest", "gql", "ws")
        }
        for room in ROOMS:
            await ok(await http.post("/chat/rooms", json={"name": room}, headers=bearer(bob)))
        for _, token in senders.values():
            for room in ROOMS:
                await gql(
                    http, token, "mutation ($r: String!) { joinRoom(room: $r) { id } }", {"r": room}
                )

        reader = Reader(http, bob)
        polling = asyncio.create_task(reader.poll())
        stack.callback(polling.cancel)
        acked: list[str] = []

        async def act(name: str, attempt: Callable[[], Awaitable[Any]]) -> Any:
            result = await until_up(attempt)
            acked.append(name)
            return result

        async def rest_sender() -> None:
            _, token = senders["rest"]
            mine: list[int] = []
            for n in range(SENDS):
                room, key = ROOMS[n % 2], f"rest-{n}"
                body = await act(key, lambda room=room, key=key: ok_post(room, key, token))  # type: ignore[misc]
                mine.append(body["id"])
                if n % 3 == 2:  # an edit of an earlier message of its own
                    target, where = mine[n - 2], ROOMS[(n - 2) % 2]
                    await act(f"{key}-edit", lambda t=target, r=where: ok_edit(r, t, token))  # type: ignore[misc]
                if n % 4 == 0:
                    await act(f"{key}-dm", lambda key=key: ok_dm(key, token))  # type: ignore[misc]

        async def ok_post(room: str, key: str, token: str) -> Any:
            return await ok(
                await http.post(
                    f"/chat/rooms/{room}/messages",
                    json={"content": key, "client_id": key},
                    headers=bearer(token),
                )
            )

        async def ok_edit(room: str, target: int, token: str) -> Any:
            return await ok(
                await http.patch(
                    f"/chat/rooms/{room}/messages/{target}",
                    json={"content": f"edited {target}"},
                    headers=bearer(token),
                )
            )

        async def ok_dm(key: str, token: str) -> Any:
            return await ok(
                await http.post(
                    f"/chat/dm/{bob_id}", json={"content": key, "client_id": key + "d"},
                    headers=bearer(token),
                )
            )  # fmt: skip

        async def gql_sender() -> None:
            _, token = senders["gql"]
            send_q = (
                "mutation ($r: String!, $c: String!, $k: String) "
                "{ sendMessage(room: $r, content: $c, clientId: $k) { id } }"
            )
            react_q = 'mutation ($id: ID!) { addReaction(id: $id, reaction: ":+1:") { id } }'
            dm_q = (
                "mutation ($to: ID!, $c: String!, $k: String) "
                "{ sendDirectMessage(to: $to, content: $c, clientId: $k) { id } }"
            )
            for n in range(SENDS):
                key = f"gql-{n}"
                variables = {"r": ROOMS[n % 2], "c": key, "k": key}
                data = await act(key, lambda v=variables: gql(http, token, send_q, v))  # type: ignore[misc]
                if n % 2 == 1:
                    mid = data["sendMessage"]["id"]
                    await act(f"{key}-react", lambda m=mid: gql(http, token, react_q, {"id": m}))  # type: ignore[misc]
                if n % 4 == 1:
                    v = {"to": str(bob_id), "c": key, "k": key + "d"}
                    await act(f"{key}-dm", lambda v=v: gql(http, token, dm_q, v))  # type: ignore[misc]

        async def ws_sender() -> None:
            _, token = senders["ws"]
            for n in range(SENDS):
                key = f"ws-{n}"
                frame = {"type": "message", "room": ROOMS[n % 2], "content": key, "client_id": key}
                reply = await act(key, lambda f=frame: ws_do(server.ws_url, token, f))  # type: ignore[misc]
                if n % 3 == 0:  # deleted again at once
                    gone = {"type": "delete", "id": reply["id"]}
                    await act(f"{key}-delete", lambda f=gone: ws_do(server.ws_url, token, f))  # type: ignore[misc]
                if n % 4 == 2:
                    dm = {"type": "dm", "to": bob_id, "content": key, "client_id": key + "d"}
                    await act(f"{key}-dm", lambda f=dm: ws_do(server.ws_url, token, f))  # type: ignore[misc]

        sending = asyncio.gather(rest_sender(), gql_sender(), ws_sender())
        stack.callback(sending.cancel)
        while len(acked) < KILL_AFTER:
            await asyncio.sleep(0.005)
        await kill(server)
        await started(stack, env, tmp_path / "second.log")
        await sending
        polling.cancel()

        # Catch up: until a sync brings nothing new.
        while await until_up(reader.once):
            pass

        for room in ROOMS:
            history = await stored(http, bob, f"/chat/rooms/{room}/messages")
            rid = history[0]["room_id"]
            seen = reader.messages[rid]
            assert len(seen) == len(set(seen)), "a message was delivered twice"
            assert sorted(seen) == [m["id"] for m in history]
            for m in history:
                assert reader.content[m["id"]] == (m["content"], bool(m.get("deleted")))
            changes = reader.changes.get(rid, [])
            assert len(changes) == len(set(changes)), "a change was delivered twice"
            assert sorted(changes) == await change_log(server.ws_url, bob, room)
        dms: list[int] = []
        for sender_id, _ in senders.values():
            dms += [d["id"] for d in await stored(http, bob, f"/chat/dm/{sender_id}")]
        assert len(reader.dms) == len(set(reader.dms))
        assert sorted(reader.dms) == sorted(dms)
        assert len(dms) == 4 + 4 + 3  # every DM acknowledged (no duplicate from a retry)


async def stored(http: httpx.AsyncClient, token: str, path: str) -> list[dict[str, Any]]:
    """Every stored message of a room or a DM conversation, oldest first."""
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await ok(
            await http.get(path, params={"after": after, "limit": 100}, headers=bearer(token))
        )
        items += page
        if len(page) < 100:
            return items
        after = page[-1]["id"]


async def change_log(url: str, token: str, room: str) -> list[int]:
    """A room's whole change log, replayed by a chat WebSocket joining after 0."""
    found: list[int] = []
    async with connect(url, additional_headers=bearer(token)) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        await send(ws, {"type": "join", "room": room, "after": 0, "ref": "j"})
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame["type"] == "joined":
                return found
            if frame["type"] in CHANGE_TYPES:
                found.append(frame["event_id"])
