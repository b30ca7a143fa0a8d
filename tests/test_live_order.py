"""Order and no gaps across processes (issue 9 item 3).

Three server processes share PostgreSQL and Redis. Senders on every process
and every door (REST, GraphQL mutation, chat WS frame) send at once, to one
room and as DMs. Every chat WS client and every GraphQL subscriber, one of
each per process, records what it receives: each record must equal the
stored history exactly, same ids in the same order.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import scratch_database
from tests.live_helpers import (
    DM_SUB,
    ROOM_SUB,
    GqlRecorder,
    WsRecorder,
    gql_recorder,
    stored_ids,
    wait_for,
    ws_recorder,
)
from tests.test_scale_out import _postgres_url, _redis_url, _require_redis
from tests.ws_helpers import (
    ServerProcess,
    bearer,
    chat_client,
    process_env,
    register,
    request,
    run_cli,
    server_process,
)

pytestmark = pytest.mark.slow

PROCESSES = 3
PER_SENDER = 15
SEND_MESSAGE = """
mutation ($content: String!) { sendMessage(room: "general", content: $content) { id } }
"""
SEND_DM = """
mutation ($to: ID!, $content: String!) { sendDirectMessage(to: $to, content: $content) { id } }
"""


async def _graphql(http: httpx.AsyncClient, token: str, query: str, **variables: Any) -> None:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=bearer(token)
    )
    body = response.json()
    assert response.status_code == 200, body
    assert not body.get("errors"), body


async def _sender(server: ServerProcess, door: str, token: str, readers: list[int]) -> None:
    """PER_SENDER room messages, and a DM to a reader every third one."""
    async with server.client() as http:
        if door == "ws":
            async with chat_client(server.ws_url, token) as ws:
                for n in range(PER_SENDER):
                    reply = await request(
                        ws, {"type": "message", "room": "general", "content": f"w{n}"}
                    )
                    assert reply["type"] == "ack", reply
                    if n % 3 == 0:
                        to = readers[n % len(readers)]
                        reply = await request(ws, {"type": "dm", "to": to, "content": f"wd{n}"})
                        assert reply["type"] == "ack", reply
            return
        for n in range(PER_SENDER):
            to = readers[n % len(readers)]
            if door == "rest":
                posted = await http.post(
                    "/chat/rooms/general/messages", json={"content": f"r{n}"}, headers=bearer(token)
                )
                assert posted.status_code == 201, posted.text
                if n % 3 == 0:
                    sent = await http.post(
                        f"/chat/dm/{to}", json={"content": f"rd{n}"}, headers=bearer(token)
                    )
                    assert sent.status_code == 201, sent.text
            else:
                await _graphql(http, token, SEND_MESSAGE, content=f"g{n}")
                if n % 3 == 0:
                    await _graphql(http, token, SEND_DM, to=str(to), content=f"gd{n}")


async def test_three_processes_every_door_every_record_equals_history(tmp_path: Path) -> None:
    broadcast = _redis_url()
    await _require_redis(broadcast)
    async with scratch_database(_postgres_url(), tmp_path) as database_url:
        shared = {
            "BROADCAST_URL": broadcast,
            "PUBSUB_PREFIX": f"order-{uuid.uuid4().hex[:8]}",
            "MESSAGES_PER_WINDOW": "100000",
            "REGISTER_IP_MAX": "1000",
        }
        envs = [process_env(database_url, tmp_path, **shared) for _ in range(PROCESSES)]
        await run_cli("migrate", env=envs[0])
        async with (
            server_process(envs[0], migrate=False) as p0,
            server_process(envs[1], migrate=False) as p1,
            server_process(envs[2], migrate=False) as p2,
        ):
            await _scenario([p0, p1, p2])


async def _scenario(servers: list[ServerProcess]) -> None:
    async with servers[0].client() as http:
        readers = [await register(http, f"reader{p}@example.com") for p in range(PROCESSES)]
        senders = {
            (p, door): await register(http, f"{door}{p}@example.com")
            for p in range(PROCESSES)
            for door in ("rest", "graphql", "ws")
        }
        room = await http.post(
            "/chat/rooms", json={"name": "general"}, headers=bearer(readers[0][1])
        )
        assert room.status_code == 201, room.text
        room_id = int(room.json()["id"])
        first = await http.post(
            "/chat/rooms/general/messages", json={"content": "start"}, headers=bearer(readers[0][1])
        )
        start = int(first.json()["id"])

        ws_records: list[tuple[int, WsRecorder]] = []
        gql_records: list[tuple[int, GqlRecorder]] = []
        for p, server in enumerate(servers):
            user_id, token = readers[p]
            ws = await ws_recorder(server.ws_url, token)
            await ws.join("general", room_id, after=start)
            ws.start()
            ws_records.append((user_id, ws))
            gql = await gql_recorder(server.http_url, token)
            await gql.subscribe("room", ROOM_SUB, {"room": "general", "after": str(start)})
            await gql.subscribe("dm", DM_SUB, {"after": "0"})
            gql.start()
            gql_records.append((user_id, gql))

        reader_ids = [user_id for user_id, _ in readers]
        await asyncio.gather(
            *(
                _sender(servers[p], door, token, reader_ids)
                for (p, door), (_, token) in senders.items()
            )
        )

        stored = [
            i
            for i in await stored_ids(http, readers[0][1], "/chat/rooms/general/messages")
            if i > start
        ]
        assert len(stored) == PROCESSES * 3 * PER_SENDER
        dm_history: dict[int, list[int]] = {}
        for user_id, token in readers:
            ids: set[int] = set()
            for sender_id, _ in senders.values():
                ids.update(await stored_ids(http, token, f"/chat/dm/{sender_id}"))
            dm_history[user_id] = sorted(ids)
        assert sum(map(len, dm_history.values())) == PROCESSES * 3 * len(range(0, PER_SENDER, 3))

        for user_id, ws in ws_records:
            await wait_for(lambda ws=ws: ws.rooms[room_id][-1:] == stored[-1:], timeout=30)
            await wait_for(lambda ws=ws, u=user_id: ws.dms[-1:] == dm_history[u][-1:], timeout=30)
        for user_id, gql in gql_records:
            await wait_for(lambda g=gql: g.streams["room"][-1:] == stored[-1:], timeout=30)
            await wait_for(
                lambda g=gql, u=user_id: g.streams["dm"][-1:] == dm_history[u][-1:], timeout=30
            )
        await asyncio.sleep(0.5)  # late duplicates would show now

        for user_id, ws in ws_records:
            assert ws.rooms[room_id] == stored, _diff(ws.rooms[room_id], stored)
            assert ws.dms == dm_history[user_id], _diff(ws.dms, dm_history[user_id])
            assert ws.closed is None
            await ws.stop()
        for user_id, gql in gql_records:
            assert not gql.errors, gql.errors
            assert gql.streams["room"] == stored, _diff(gql.streams["room"], stored)
            assert gql.streams["dm"] == dm_history[user_id], _diff(
                gql.streams["dm"], dm_history[user_id]
            )
            await gql.stop()


def _diff(got: list[int], want: list[int]) -> str:
    missing = sorted(set(want) - set(got))
    duplicates = sorted({i for i in got if got.count(i) > 1})
    disorder = sum(1 for a, b in zip(got, got[1:], strict=False) if a >= b)
    return f"missing {missing[:10]}, duplicates {duplicates[:10]}, out of order {disorder}"
