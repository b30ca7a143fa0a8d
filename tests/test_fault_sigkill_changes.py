"""Edits and deletions survive SIGKILL, and resuming clients miss none (issue 14).

A real server process takes edits (REST ``PATCH``) and deletions (REST
``DELETE``) of stored messages while a chat WebSocket client listens to the
room. Once some are acknowledged the process is killed with SIGKILL and
started again on the same ports and database; the editor retries what was
not acknowledged (both are idempotent), the listener reconnects and joins
``after`` the largest ``id``/``event_id`` it saw.

Afterwards every acknowledged edit and deletion is in history; the listener
has seen every change of the room's change log exactly once, in strictly
increasing order, the same as a fresh client replaying from before the
first change; and no deleted content travels again.
"""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.account_helpers import bearer, register
from tests.fault_helpers import DOWN, RETRY_PAUSE, kill, rest_history, started, until_up
from tests.harness import scratch_database
from tests.process_helpers import process_env
from tests.ws_helpers import send

pytestmark = pytest.mark.slow

ROOM = "fault"
MESSAGES = 30
KILL_AFTER = 12
TEST_SECONDS = 90


class Listener:
    """Joins the room; after a cut, rejoins ``after`` the largest id seen."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.frames: list[dict[str, Any]] = []
        self.last = 0

    async def run(self, after: int) -> None:
        self.last = after
        while True:
            try:
                async with connect(self.url, additional_headers=bearer(self.token)) as ws:
                    assert json.loads(await ws.recv())["type"] == "ready"
                    await send(ws, {"type": "join", "room": ROOM, "after": self.last})
                    async for raw in ws:
                        frame = json.loads(raw)
                        if frame["type"] in {"message", "message_edited", "message_deleted"}:
                            key = frame.get("event_id", frame["id"])
                            assert key > self.last, (key, self.last)
                            self.last = key
                            self.frames.append(frame)
            except DOWN:
                await asyncio.sleep(RETRY_PAUSE)
            except Exception as error:
                if "ConnectionClosed" not in type(error).__name__:
                    raise
                await asyncio.sleep(RETRY_PAUSE)


async def test_sigkill_mid_edits_and_deletes_loses_no_acknowledged_change(
    tmp_path: Path,
) -> None:
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
        _, token = await register(http, "editor@example.com")
        created = await http.post("/chat/rooms", json={"name": ROOM}, headers=bearer(token))
        assert created.status_code == 201, created.text
        ids = []
        for n in range(MESSAGES):
            response = await http.post(
                f"/chat/rooms/{ROOM}/messages",
                json={"content": f"secret {n}"},
                headers=bearer(token),
            )
            ids.append(response.json()["id"])
        cursor = ids[-1]

        listener = Listener(server.ws_url, token)
        listening = asyncio.create_task(listener.run(cursor))
        stack.callback(listening.cancel)

        # Edits of every message, deletions of every third, acknowledged one by one.
        plan: list[tuple[str, int]] = []
        for n, message_id in enumerate(ids):
            plan.append(("edit", message_id))
            if n % 3 == 0:
                plan.append(("delete", message_id))
        done: list[tuple[str, int]] = []

        async def apply(kind: str, message_id: int) -> None:
            path = f"/chat/rooms/{ROOM}/messages/{message_id}"
            if kind == "edit":
                response = await http.patch(
                    path, json={"content": f"edited {message_id}"}, headers=bearer(token)
                )
                assert response.status_code == 200, response.text
            else:
                response = await http.delete(path, headers=bearer(token))
                assert response.status_code == 204, response.text

        async def edit_all() -> None:
            for step in plan:
                await until_up(lambda step=step: apply(*step))  # type: ignore[misc]
                done.append(step)

        editing = asyncio.create_task(edit_all())
        stack.callback(editing.cancel)
        while len(done) < KILL_AFTER:
            await asyncio.sleep(0.005)
        await kill(server)
        await started(stack, env, tmp_path / "second.log")
        await editing
        assert done == plan

        # Every acknowledged change is stored.
        history = {m["id"]: m for m in await until_up(lambda: rest_history(http, token))}
        deleted = {m for kind, m in plan if kind == "delete"}
        for message_id in ids:
            row = history[message_id]
            if message_id in deleted:
                assert (row["content"], row.get("deleted")) == ("", True)
            else:
                assert row["content"] == f"edited {message_id}"
                assert "edited_at" in row

        # A fresh client replaying from the cursor sees the whole change log once, in order.
        replayed: list[dict[str, Any]] = []
        async with connect(server.ws_url, additional_headers=bearer(token)) as ws:
            assert json.loads(await ws.recv())["type"] == "ready"
            await send(ws, {"type": "join", "room": ROOM, "after": cursor, "ref": "j"})
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame["type"] == "joined":
                    break
                replayed.append(frame)
        events = [f["event_id"] for f in replayed]
        assert events == sorted(set(events))
        # (an edit retried after the kill may have been stored before it: one more)
        assert len(plan) <= len(events) <= len(plan) + 1
        assert {f["id"] for f in replayed if f["type"] == "message_deleted"} == deleted
        assert "secret" not in json.dumps(replayed)

        # The listener, cut off by the kill, caught up with the same sequence.
        async with asyncio.timeout(20):
            while listener.last < events[-1]:
                await asyncio.sleep(0.05)
        assert [f["event_id"] for f in listener.frames] == events
        for seen, stored in zip(listener.frames, replayed, strict=True):
            assert seen["id"] == stored["id"]
            if seen["id"] in deleted:
                assert "secret" not in json.dumps(seen)
