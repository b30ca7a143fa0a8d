"""No message lost: the server process is killed with SIGKILL mid-traffic.

A real ``python -m comptoir serve`` (on the suite's database and broadcast)
takes messages from several clients at once: three chat WebSocket clients
(``message`` frames with ``ref`` and ``client_id``), one REST client
(``POST``, 201), one GraphQL client (``sendMessage``) and one REST client
sending direct messages. Once some of them are acknowledged the process is
killed with SIGKILL and started again on the same ports and database. Every
client retries what was not acknowledged with the same ``client_id``;
WebSocket clients reconnect and ``join`` with ``after`` their last seen id,
and two readers page through history with ``after`` (REST ``?after=``,
GraphQL ``after`` cursors).

Afterwards every acknowledged message is in history exactly once, with the
id it was acknowledged with; nothing is stored twice; and every client,
live or paging, has seen the whole history once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.account_helpers import bearer, register
from tests.fault_helpers import DOWN, RETRY_PAUSE, ROOM, kill, rest_history, started, until_up
from tests.harness import scratch_database
from tests.process_helpers import process_env
from tests.ws_helpers import send

pytestmark = pytest.mark.slow

WS_SENDERS = 3
MESSAGES_EACH = 30
KILL_AFTER_ACKS = 40
TEST_SECONDS = 90


class Acks:
    """Every acknowledgement: client_id -> the id it was acknowledged with."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.count = 0
        self.enough = asyncio.Event()

    def add(self, client_id: str, message_id: int) -> None:
        previous = self.ids.setdefault(client_id, message_id)
        assert previous == message_id, f"{client_id} acknowledged as {previous} then {message_id}"
        self.count += 1
        if self.count >= KILL_AFTER_ACKS:
            self.enough.set()


class WsClient:
    """Sends, receives the room live, and rejoins with ``after`` when cut off."""

    def __init__(self, url: str, token: str, name: str, acks: Acks) -> None:
        self.url, self.token, self.name, self.acks = url, token, name, acks
        self.ws: ClientConnection | None = None
        self.received: list[int] = []
        self.connections = 0

    @property
    def last_seen(self) -> int:
        return self.received[-1] if self.received else 0

    async def _frame(self, ws: ClientConnection) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        return frame

    def _take(self, frame: dict[str, Any]) -> None:
        assert frame["type"] == "message", frame
        self.received.append(frame["id"])

    async def _connected(self) -> ClientConnection:
        """The open connection, or a new one joined ``after`` the last seen id
        (the replayed messages are taken before ``joined``)."""
        if self.ws is not None:
            return self.ws
        self.ws = ws = await connect(
            self.url, additional_headers=bearer(self.token), open_timeout=5
        )
        ready = await self._frame(ws)
        assert ready["type"] == "ready", ready
        await send(ws, {"type": "join", "room": ROOM, "after": self.last_seen, "ref": "j"})
        while (frame := await self._frame(ws)).get("ref") != "j":
            self._take(frame)
        assert frame["type"] == "joined", frame
        self.connections += 1
        return ws

    async def _attempt(self, work: Callable[[ClientConnection], Awaitable[Any]]) -> Any:
        """``work`` on a connection, reconnecting until the server lets it finish."""
        while True:
            try:
                return await work(await self._connected())
            except DOWN:
                ws, self.ws = self.ws, None
                if ws is not None:
                    await ws.close()
                await asyncio.sleep(RETRY_PAUSE)

    async def send_all(self) -> None:
        for n in range(MESSAGES_EACH):
            client_id = f"{self.name}-{n}"

            async def message(ws: ClientConnection, client_id: str = client_id) -> dict[str, Any]:
                frame = {"type": "message", "room": ROOM, "content": client_id}
                await send(ws, {**frame, "ref": client_id, "client_id": client_id})
                while (reply := await self._frame(ws)).get("ref") != client_id:
                    self._take(reply)
                return reply

            ack = await self._attempt(message)
            assert ack["type"] == "ack", ack
            self.acks.add(client_id, ack["id"])

    async def drain(self, last_id: int) -> None:
        async def read(ws: ClientConnection) -> None:
            while self.last_seen < last_id:
                self._take(await self._frame(ws))

        await self._attempt(read)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def rest_sender(
    http: httpx.AsyncClient, token: str, acks: Acks, path: str = f"/chat/rooms/{ROOM}/messages"
) -> None:
    prefix = "rest-dm" if path.startswith("/chat/dm/") else "rest"
    for n in range(MESSAGES_EACH):
        client_id = f"{prefix}-{n}"

        async def attempt(client_id: str = client_id) -> httpx.Response:
            response = await http.post(
                path,
                json={"content": client_id, "client_id": client_id},
                headers=bearer(token),
            )
            if response.status_code >= 500:
                raise httpx.TransportError(f"status {response.status_code}")
            return response

        response = await until_up(attempt)
        assert response.status_code == 201, response.text
        acks.add(client_id, response.json()["id"])


SEND = """
mutation ($room: String!, $content: String!, $clientId: String) {
  sendMessage(room: $room, content: $content, clientId: $clientId) { id clientId }
}
"""


async def graphql_sender(http: httpx.AsyncClient, token: str, acks: Acks) -> None:
    for n in range(MESSAGES_EACH):
        client_id = f"graphql-{n}"
        variables = {"room": ROOM, "content": client_id, "clientId": client_id}

        async def attempt(variables: dict[str, Any] = variables) -> dict[str, Any]:
            response = await http.post(
                "/graphql", json={"query": SEND, "variables": variables}, headers=bearer(token)
            )
            body: dict[str, Any] = response.json() if response.status_code < 500 else {}
            if not body.get("data"):
                codes = [e["extensions"]["code"] for e in body.get("errors") or []]
                assert set(codes) <= {"INTERNAL_SERVER_ERROR"}, body
                raise httpx.TransportError(f"no data: {codes}")
            return body

        body = await until_up(attempt)
        acks.add(client_id, int(body["data"]["sendMessage"]["id"]))


async def dm_history(http: httpx.AsyncClient, token: str, peer: int) -> list[dict[str, Any]]:
    """The whole conversation with ``peer``, oldest first, paging with ``?after=``."""
    messages: list[dict[str, Any]] = []
    while True:
        after = messages[-1]["id"] if messages else 0
        response = await http.get(
            f"/chat/dm/{peer}", params={"after": after, "limit": 100}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        if not response.json():
            return messages
        messages.extend(response.json())


HISTORY = """
query ($room: String!, $after: String) {
  roomMessages(room: $room, first: 100, after: $after) {
    edges { node { id } }
    pageInfo { endCursor }
  }
}
"""


class Reader:
    """Reads history as it grows, by REST ``?after=`` or GraphQL ``after`` cursors."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http, self.token = http, token
        self.rest_ids: list[int] = []
        self.graphql_ids: list[int] = []
        self.cursor: str | None = None

    async def poll(self) -> None:
        rows = await rest_history(self.http, self.token, self.rest_ids[-1] if self.rest_ids else 0)
        self.rest_ids.extend(m["id"] for m in rows)
        while True:
            response = await self.http.post(
                "/graphql",
                json={"query": HISTORY, "variables": {"room": ROOM, "after": self.cursor}},
                headers=bearer(self.token),
            )
            if response.status_code >= 500 or not (response.json().get("data")):
                raise httpx.TransportError(f"history unavailable: {response.text[:200]}")
            page = response.json()["data"]["roomMessages"]
            if not page["edges"]:
                return
            self.graphql_ids.extend(int(e["node"]["id"]) for e in page["edges"])
            self.cursor = page["pageInfo"]["endCursor"]

    async def follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await until_up(self.poll)
            await asyncio.sleep(0.05)


@pytest.mark.checklist(28, "sigkill")
async def test_sigkill_mid_traffic_loses_no_acknowledged_message(tmp_path: Path) -> None:
    async with (
        asyncio.timeout(TEST_SECONDS),
        scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url,
        AsyncExitStack() as stack,
    ):
        env = process_env(
            database_url, tmp_path, MESSAGES_PER_WINDOW="100000", WS_FRAME_RATE="100000"
        )
        server = await started(stack, env, tmp_path / "first.log")
        http = await stack.enter_async_context(server.client())
        names = [f"ws{i}" for i in range(WS_SENDERS)] + ["rest", "graphql", "dm", "reader"]
        users = {name: await register(http, f"{name}@example.com") for name in names}
        tokens = {name: token for name, (_, token) in users.items()}
        created = await http.post(
            "/chat/rooms", json={"name": ROOM}, headers=bearer(tokens["reader"])
        )
        assert created.status_code == 201, created.text

        # Given clients sending through every door, and readers following history
        acks, dm_acks = Acks(), Acks()
        ws_clients = [
            WsClient(server.ws_url, tokens[f"ws{i}"], f"ws{i}", acks) for i in range(WS_SENDERS)
        ]
        for client in ws_clients:
            stack.push_async_callback(client.close)
        reader = Reader(http, tokens["reader"])
        stop_reading = asyncio.Event()
        reading = asyncio.create_task(reader.follow(stop_reading))
        sending = asyncio.gather(
            *(c.send_all() for c in ws_clients),
            rest_sender(http, tokens["rest"], acks),
            rest_sender(http, tokens["dm"], dm_acks, f"/chat/dm/{users['reader'][0]}"),
            graphql_sender(http, tokens["graphql"], acks),
        )
        stack.callback(sending.cancel)
        stack.callback(reading.cancel)

        # When the server is killed mid-traffic and started again
        await acks.enough.wait()
        await kill(server)
        acked_before_kill = dict(acks.ids)
        await started(stack, env, tmp_path / "second.log")
        await sending
        history = await rest_history(http, tokens["reader"])
        dms = await until_up(lambda: dm_history(http, tokens["reader"], users["dm"][0]))
        last_id = history[-1]["id"]
        await asyncio.gather(*(c.drain(last_id) for c in ws_clients))
        stop_reading.set()
        await reading
        await until_up(reader.poll)
        await asyncio.gather(*(c.close() for c in ws_clients))

    # Then the kill happened mid-traffic
    total = (WS_SENDERS + 2) * MESSAGES_EACH
    assert KILL_AFTER_ACKS <= len(acked_before_kill) < total
    assert all(c.connections >= 2 for c in ws_clients)
    # and every acknowledged message is stored once, with its acknowledged id
    history_ids = [m["id"] for m in history]
    by_client_id = Counter(m["client_id"] for m in history)
    assert len(history) == total
    assert set(by_client_id) == set(acks.ids)
    assert set(by_client_id.values()) == {1}
    assert {m["client_id"]: m["id"] for m in history} == acks.ids
    assert all(m["content"] == m["client_id"] for m in history)
    assert history_ids == sorted(history_ids)
    # and every client, live or reading after its last id, saw it all once
    for client in ws_clients:
        assert client.received == history_ids, client.name
    assert reader.rest_ids == history_ids
    assert reader.graphql_ids == history_ids
    # and so is every acknowledged direct message
    assert [d["client_id"] for d in dms] == [f"rest-dm-{n}" for n in range(MESSAGES_EACH)]
    assert {d["client_id"]: d["id"] for d in dms} == dm_acks.ids


@pytest.mark.checklist(28, "sigterm")
async def test_sigterm_mid_traffic_closes_with_1001_and_keeps_what_was_acknowledged(
    tmp_path: Path,
) -> None:
    async with (
        asyncio.timeout(TEST_SECONDS),
        scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url,
        AsyncExitStack() as stack,
    ):
        env = process_env(database_url, tmp_path, MESSAGES_PER_WINDOW="100000")
        server = await started(stack, env, tmp_path / "first.log")
        http = await stack.enter_async_context(server.client())
        _, token = await register(http, "talker@example.com")
        created = await http.post("/chat/rooms", json={"name": ROOM}, headers=bearer(token))
        assert created.status_code == 201, created.text
        chat = [
            await stack.enter_async_context(
                connect(server.ws_url, additional_headers=bearer(token))
            )
            for _ in range(2)
        ]
        for ws in chat:
            assert json.loads(await ws.recv())["type"] == "ready"
            await send(ws, {"type": "join", "room": ROOM, "ref": "j"})
            assert json.loads(await ws.recv())["type"] == "joined"
        graphql_ws = await stack.enter_async_context(
            connect(
                server.http_url.replace("http://", "ws://", 1) + "/graphql",
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            )
        )
        await graphql_ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await graphql_ws.recv())["type"] == "connection_ack"

        # Given a client posting as fast as it can
        acknowledged: dict[str, int] = {}

        async def talk() -> None:
            for n in range(10_000):
                response = await http.post(
                    f"/chat/rooms/{ROOM}/messages",
                    json={"content": f"m{n}", "client_id": f"c{n}"},
                    headers=bearer(token),
                )
                if response.status_code != 201:
                    return
                acknowledged[f"c{n}"] = response.json()["id"]

        talking = asyncio.create_task(talk())
        stack.callback(talking.cancel)
        while len(acknowledged) < 20:
            await asyncio.sleep(0.01)

        # When the server is asked to stop
        server.process.send_signal(signal.SIGTERM)
        codes = []
        for ws in chat:
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 15)
            except ConnectionClosed as closed:
                codes.append(closed.rcvd.code if closed.rcvd else None)
        try:
            while True:
                await asyncio.wait_for(graphql_ws.recv(), 15)
        except ConnectionClosed as closed:
            graphql_code = closed.rcvd.code if closed.rcvd else None
        # uvicorn re-raises the SIGTERM it handled, once shut down
        assert await asyncio.wait_for(server.process.wait(), 30) in {0, -signal.SIGTERM}
        with contextlib.suppress(*DOWN):
            await talking

        # Then chat clients were told the server is going away
        assert codes == [1001, 1001]
        # (uvicorn closes GraphQL subscriptions with 1012, "service restart")
        assert graphql_code in {1001, 1012}
        # and after a restart every acknowledged message is there, once
        await started(stack, env, tmp_path / "second.log")
        history = await rest_history(http, token)
        assert {m["client_id"]: m["id"] for m in history} == acknowledged
