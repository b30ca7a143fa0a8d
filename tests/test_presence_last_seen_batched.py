"""Last seen of many users going offline together is written in batches.

Twenty users of a room close their chat WebSockets at once; a watcher in
the room hears every one go offline. Meanwhile their ``last_seen_at`` was
written by a handful of UPDATE statements (one per batch the presence
announcer took), not one per user (``resolvers.last_seen``); once the
presence store forgets them (a Redis flush, or a restart of the memory
store), the presence query still reports each last seen as announced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest

from resolvers import presence
from tests.conftest import MakeAccount
from tests.harness import Service
from tests.helpers import QueryCounter
from tests.presence_helpers import parse_time, room_with
from tests.ws_helpers import chat_client, join, open_ws, recv, request

USERS = 20
SAME = timedelta(milliseconds=1)  # stored and announced: one instant
LAST_SEEN_UPDATE = 'UPDATE "users" SET "last_seen_at"'


@contextmanager
def last_seen_updates() -> Iterator[list[str]]:
    """The statements writing ``users.last_seen_at`` meanwhile (any task's,
    the presence announcer's included)."""
    with pytest.MonkeyPatch.context() as patch:
        yield QueryCounter(patch, startswith=LAST_SEEN_UPDATE, background=True).statements


async def test_twenty_users_going_offline_together_cost_a_few_updates(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    watcher = await make_account(display_name="watcher")
    people = [await make_account(display_name=f"user{i}") for i in range(USERS)]
    room = await room_with(http, watcher, "lobby", *people)
    async with chat_client(service.ws_url, watcher.token) as w:
        await join(w, room)
        await request(w, {"type": "presence", "room": room})  # ask for presence changes
        sockets = [await open_ws(service.ws_url, p.token) for p in people]
        for ws in sockets:
            assert (await recv(ws))["type"] == "ready"
        online: set[int] = set()
        while len(online) < USERS:
            frame = await recv(w)
            if frame["type"] == "presence_changed" and frame["online"]:
                online.add(frame["user_id"])
        with last_seen_updates() as updates:
            await asyncio.gather(*(ws.close() for ws in sockets))
            announced: dict[int, str] = {}
            while len(announced) < USERS:
                frame = await recv(w)
                if frame["type"] == "presence_changed" and not frame["online"]:
                    announced[frame["user_id"]] = frame["last_seen"]
        assert set(announced) == {p.id for p in people}
        # One statement per announcer batch; the old code wrote one per user.
        assert 1 <= len(updates) < USERS // 2, updates
        await presence.store().clear()
        listed = await request(w, {"type": "presence", "room": room})
    stored = {u["id"]: u for u in listed["users"]}
    for person in people:
        assert stored[person.id]["online"] is False
        got, want = parse_time(stored[person.id]["last_seen"]), parse_time(announced[person.id])
        assert abs(got - want) <= SAME, (got, want)
