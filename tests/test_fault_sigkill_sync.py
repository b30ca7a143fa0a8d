"""A client that only polls sync misses nothing across a SIGKILL (issue 15).

A real server process takes, from senders on every door (REST, GraphQL,
the chat WebSocket: ``tests/sync_doors.py``), every kind of news sync
reports: room messages and DMs, their edits, deletions, reactions added
and removed; and, from the reader's own other devices on each door, rooms
joined (REST joins by creating one) and left, and read markers moved in
rooms and DM conversations. A reader polls ``GET /chat/sync`` only: no
WebSocket, paging back with history where a room is ``limited``. Midway
the process is killed with SIGKILL and started again on the same ports and
database; the senders retry what was not acknowledged. While it restarts
the reader pauses, and a burst of more than the per-room cap goes into one
room, so the next sync of it is ``limited``.

Afterwards, the reader has seen, exactly once:

- every stored message of each room it is in, and every row of each room's
  change log since it joined (all of it for the rooms it was in from the
  start), its view of each message (content, deleted) equal to history;
- in each room it left: a prefix of the history and of the change log,
  ``left`` once, and nothing after it;
- every DM and every DM change (the log replayed by
  ``subscription { directMessageChanges(after: "0") }``), its view of each
  DM equal to history;
- every message that mentions it, in rooms it is in or not;
- ``joined`` once per room joined, and its read markers as last set.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from resolvers import limits
from tests.account_helpers import bearer, register
from tests.fault_helpers import DOWN, RETRY_PAUSE, kill, started, until_up
from tests.harness import scratch_database
from tests.live_helpers import gql_recorder, wait_for
from tests.process_helpers import process_env
from tests.sync_doors import DOORS, Door, Rest, ok
from tests.ws_helpers import chat_client, recv, send

pytestmark = pytest.mark.slow

STAYS = ("north", "south")  # the reader is in them throughout
SENDS = 16  # iterations per door
JOIN_AT, LEAVE_AT = 5, 11  # the iteration at which each door joins or leaves a room
KILL_AFTER = 60  # acknowledged actions, all doors together
BURST = limits.SYNC_ROOM_MESSAGES + 10
TEST_SECONDS = 240
DM_CHANGES = "subscription ($after: ID) { directMessageChanges(after: $after) { id: eventId } }"


class Reader:
    """Polls sync only, and keeps what it was told."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http, self.headers = http, bearer(token)
        self.since: str | None = None
        self.messages: dict[int, list[int]] = {}  # room id -> message ids, as seen
        self.last: dict[int, int] = {}
        # ("room" or "dm", id) -> (content, deleted): two id spaces
        self.content: dict[tuple[str, int], tuple[str, bool]] = {}
        self.changes: dict[int, list[int]] = {}  # room id -> change event ids
        self.dms: list[int] = []
        self.dm_changes: list[int] = []
        self.mentions: list[tuple[int, int]] = []  # (event id, message id)
        self.joined: Counter[int] = Counter()
        self.left: Counter[int] = Counter()
        self.limited: set[int] = set()
        self.markers: dict[tuple[str, int], int] = {}
        self.go = asyncio.Event()
        self.idle = asyncio.Event()
        self.go.set()

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

    def _changed(self, space: str, change: dict[str, Any]) -> None:
        if change["type"].endswith("_edited"):
            self.content[space, change["id"]] = (change["content"], False)
        elif change["type"].endswith("_deleted"):
            self.content[space, change["id"]] = ("", True)

    async def once(self) -> bool:
        params = {"since": self.since} if self.since else {}
        body = await ok(await self.http.get("/chat/sync", params=params, headers=self.headers))
        # Every request first, then what they said: a sync whose paging back
        # fails (the server is down) is retried whole, with the same
        # ``since``, and must not have counted anything the first time.
        older = {
            room["room_id"]: await self._older(room["room_id"], room["before"])
            for room in body["rooms"]
            if room["limited"]
        }
        for rid in body["left"]:
            self.left[rid] += 1
        for room in body["rooms"]:
            rid = room["room_id"]
            assert not self.left[rid], f"news of room {rid} after it was left"
            self.joined[rid] += room["joined"]
            messages = room["messages"]
            if room["limited"]:
                self.limited.add(rid)
                messages = older[rid] + messages
            for m in messages:
                self.messages.setdefault(rid, []).append(m["id"])
                self.content["room", m["id"]] = (m["content"], bool(m.get("deleted")))
                self.last[rid] = max(self.last.get(rid, 0), m["id"])
            for c in room["changes"]:
                self.changes.setdefault(rid, []).append(c["event_id"])
                self._changed("room", c)
        for d in body["dms"]:
            self.dms.append(d["id"])
            self.content["dm", d["id"]] = (d["content"], bool(d.get("deleted")))
        for c in body["dm_changes"]:
            self.dm_changes.append(c["event_id"])
            self._changed("dm", c)
        self.mentions += [(m["event_id"], m["id"]) for m in body["mentions"]]
        for k in body["read_markers"]:
            key = ("room", k["room_id"]) if "room_id" in k else ("with", k["with"])
            self.markers[key] = k["last_read_id"]
        self.since = body["next"]
        news = ("rooms", "left", "dms", "dm_changes", "mentions")
        return any(body[part] for part in news)

    async def poll(self) -> None:
        try:
            while True:
                self.idle.set()
                await self.go.wait()
                self.idle.clear()
                try:
                    await self.once()
                except DOWN:
                    pass
                await asyncio.sleep(RETRY_PAUSE)
        finally:
            self.idle.set()  # a failed reader does not hold up pause()

    async def pause(self) -> None:
        """Returns once no sync is in flight, nor will be until ``go`` is set."""
        self.go.clear()
        await self.idle.wait()


class Run:
    """The senders, what they were told, and what the reader should end with."""

    def __init__(self, bob_id: int) -> None:
        self.bob_id = bob_id
        self.acked = 0
        self.marks: dict[tuple[str, Any], int] = {}  # ("room", name) / ("with", id) -> max id
        self.mentioned: list[int] = []  # messages mentioning the reader

    async def act(self, attempt: Callable[[], Awaitable[Any]]) -> Any:
        result = await until_up(attempt)
        self.acked += 1
        return result

    def mark(self, key: tuple[str, Any], mid: int) -> None:
        self.marks[key] = max(self.marks.get(key, 0), mid)

    async def sender(self, door: Door, device: Door, sender_id: int) -> None:
        """One door's traffic: ``door`` with a sender's token, ``device``
        (the same door) with the reader's. Rooms take turns; block ``k`` of
        four iterations does, in each room, the ``k % 4``-th change:
        react, edit an earlier message, unreact that one, delete."""
        name, bob_id = door.name, self.bob_id
        posted: dict[str, list[int]] = {}
        dms: list[int] = []
        for n in range(SENDS):
            key = f"{name}-{n}"
            rooms = [*STAYS, f"leave-{name}"]
            if name != "rest" or n > JOIN_AT:  # REST joins by creating its room
                rooms.append(f"join-{name}")
            room = rooms[n % len(rooms)]
            text = f"{key} <@{bob_id}>" if n % 3 == 1 else key  # a mention, joined or not
            mid = await self.act(lambda r=room, k=key, t=text: door.post(r, k, t))  # type: ignore[misc]
            if text != key:
                self.mentioned.append(mid)
            mine = posted.setdefault(room, [])
            mine.append(mid)
            if room in STAYS and n % 2 == 0:
                await self.act(lambda r=room, m=mid: device.mark_room(r, m))  # type: ignore[misc]
                self.mark(("room", room), mid)
            match (n // 4) % 4:
                case 0:
                    await self.act(lambda r=room, m=mid: door.react(r, m, True))  # type: ignore[misc]
                case 1 if len(mine) > 1:
                    await self.act(lambda r=room, m=mine[-2]: door.edit(r, m, f"edited {m}"))  # type: ignore[misc]
                case 2 if len(mine) > 2:
                    await self.act(lambda r=room, m=mine[-3]: door.react(r, m, False))  # type: ignore[misc]
                case 3:
                    await self.act(lambda r=room, m=mid: door.delete(r, m))  # type: ignore[misc]
            if n % 2 == 0:
                dms.append(await self.act(lambda k=key: door.dm(bob_id, k)))  # type: ignore[misc]
                await self._dm_change(door, device, n, dms, sender_id)
            if n == JOIN_AT:
                await self.act(lambda: device.join(f"join-{name}"))
            if n == LEAVE_AT:
                await self.act(lambda: device.leave(f"leave-{name}"))

    async def _dm_change(
        self, door: Door, device: Door, n: int, dms: list[int], sender_id: int
    ) -> None:
        to = self.bob_id
        match n % 8:
            case 0 if len(dms) > 1:
                await self.act(lambda m=dms[-2]: door.dm_delete(to, m))  # type: ignore[misc]
            case 2:
                await self.act(lambda m=dms[-1]: door.dm_react(to, m, True))  # type: ignore[misc]
                await self.act(lambda m=dms[-1]: device.mark_dm(sender_id, m))  # type: ignore[misc]
                self.mark(("with", sender_id), dms[-1])
            case 4:
                await self.act(lambda m=dms[-1]: door.dm_edit(to, m, f"edited {m}"))  # type: ignore[misc]
            case 6:
                await self.act(lambda m=dms[-3]: door.dm_react(to, m, False))  # type: ignore[misc]


@pytest.mark.timeout(TEST_SECONDS + 30)
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
        senders = {door.name: await register(http, f"{door.name}@example.com") for door in DOORS}
        bobs = Rest(http, server.ws_url, bob)
        for room in (*STAYS, *(f"leave-{d.name}" for d in DOORS)):
            await bobs.join(room)  # created by the reader: a member from the start
        for name in ("gql", "ws"):
            await Rest(http, server.ws_url, senders[name][1]).join(f"join-{name}")

        reader = Reader(http, bob)
        await reader.once()  # before any change: every change of its rooms is news to it
        polling = asyncio.create_task(reader.poll())
        stack.callback(polling.cancel)
        run = Run(bob_id)
        sending = asyncio.gather(
            *(
                run.sender(
                    door(http, server.ws_url, senders[door.name][1]),
                    door(http, server.ws_url, bob),
                    senders[door.name][0],
                )
                for door in DOORS
            )
        )
        stack.callback(sending.cancel)
        while run.acked < KILL_AFTER:
            await asyncio.sleep(0.005)
        await reader.pause()
        await kill(server)
        server = await started(stack, env, tmp_path / "second.log")
        # More than the cap in one room while the reader waits: its next sync is limited.
        burst = Rest(http, server.ws_url, senders["rest"][1])
        for n in range(BURST):
            await run.act(lambda n=n: burst.post("north", f"burst-{n}"))  # type: ignore[misc]
        reader.go.set()
        await sending
        assert not polling.done(), polling.exception()  # the reader saw nothing wrong
        polling.cancel()
        while await until_up(reader.once):  # catch up: until a sync brings nothing new
            pass

        rooms = await room_ids(http, bob)
        assert rooms["north"] in reader.limited
        for name, rid in rooms.items():
            history = await stored(http, bob, f"/chat/rooms/{name}/messages")
            seen, changes = reader.messages.get(rid, []), reader.changes.get(rid, [])
            assert len(seen) == len(set(seen)), f"a message of {name} was delivered twice"
            assert len(changes) == len(set(changes)), f"a change of {name} was delivered twice"
            log = await change_log(server.ws_url, senders["rest"][1], name)
            if name.startswith("leave-"):
                assert (reader.left[rid], reader.joined[rid]) == (1, 1), name
                assert seen == [m["id"] for m in history][: len(seen)]
                assert changes == log[: len(changes)]
                continue
            assert (reader.joined[rid], reader.left[rid]) == (1, 0), name
            assert seen == [m["id"] for m in history], name  # in order, all of it
            for m in history:
                assert reader.content["room", m["id"]] == (m["content"], bool(m.get("deleted")))
            # Since it joined (as the reader saw it: its first sync with the
            # room): a room joined midway brings no older changes.
            assert changes == log[len(log) - len(changes) :], name
            if name in STAYS:
                assert changes == log

        dms: list[dict[str, Any]] = []
        for sender_id, _ in senders.values():
            dms += await stored(http, bob, f"/chat/dm/{sender_id}")
        assert len(reader.dms) == len(set(reader.dms))
        assert sorted(reader.dms) == sorted(d["id"] for d in dms)
        assert len(dms) == len(DOORS) * SENDS // 2  # every DM once, retries included
        for d in dms:
            assert reader.content["dm", d["id"]] == (d["content"], bool(d.get("deleted")))
        assert reader.dm_changes == sorted(set(reader.dm_changes))
        replay = await gql_recorder(server.http_url, bob)
        await replay.subscribe("dmc", DM_CHANGES, {"after": "0"})
        replay.start()
        await wait_for(lambda: reader.dm_changes[-1] in replay.streams["dmc"])
        await replay.stop()
        assert reader.dm_changes == replay.streams["dmc"]

        # Every message that mentioned the reader, in a room it is in or not, once.
        assert len(reader.mentions) == len(set(reader.mentions))
        assert sorted(m for _, m in reader.mentions) == sorted(run.mentioned)

        expected = {
            (kind, rooms[target] if kind == "room" else target): mid
            for (kind, target), mid in run.marks.items()
        }
        assert reader.markers == expected


async def room_ids(http: httpx.AsyncClient, token: str) -> dict[str, int]:
    page = await ok(await http.get("/chat/rooms", params={"limit": 100}, headers=bearer(token)))
    return {r["name"]: r["id"] for r in page}


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
    """A room's whole change log, replayed by a chat WebSocket joining after 0
    (a sender's: joining changes nothing for the reader)."""
    found: list[int] = []
    async with chat_client(url, token) as ws:
        await send(ws, {"type": "join", "room": room, "after": 0, "ref": "j"})
        while (frame := await recv(ws, 10))["type"] != "joined":
            if frame["type"] in {"message_edited", "message_deleted", "reaction"}:
                found.append(frame["event_id"])
    return found
