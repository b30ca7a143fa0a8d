"""Order and no gaps across processes (issue 9 item 3).

Three server processes share PostgreSQL and Redis. Senders on every process
and every door (REST, GraphQL mutation, chat WS frame) send at once, to one
room and as DMs. Every chat WS client and every GraphQL subscriber, one of
each per process, records what it receives: each record must equal the
stored history exactly, same ids in the same order.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.account_helpers import bearer, register
from tests.authz_world import subscriber
from tests.conftest import Account, MakeAccount
from tests.harness import Service
from tests.helpers import LEDGER, SEND_KEYED, gql_data, rest_history
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
from tests.process_helpers import ServerProcess, server_group
from tests.ws_helpers import chat_client, recv, request

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


@pytest.mark.slow
async def test_three_processes_every_door_every_record_equals_history(tmp_path: Path) -> None:
    overrides = {"MESSAGES_PER_WINDOW": "100000", "REGISTER_IP_MAX": "1000"}
    async with server_group(tmp_path, PROCESSES, "order", **overrides) as servers:
        await _scenario(servers)


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


HISTORY = (
    "query ($r: String!, $after: String) { roomMessages(room: $r, first: 100, after: $after) "
    "{ edges { cursor node { id content } } } }"
)


ROOM_SUBSCRIPTION = (
    "subscription ($r: String!, $after: ID) { roomMessages(room: $r, after: $after) { id } }"
)


async def rest_post(http: httpx.AsyncClient, account: Account, content: str) -> int:
    response = await http.post(
        f"/chat/rooms/{LEDGER}/messages", json={"content": content}, headers=account.headers
    )
    assert response.status_code == 201
    message_id: int = response.json()["id"]
    return message_id


async def send_from_every_door(
    service: Service, http: httpx.AsyncClient, accounts: list[Account], each: int
) -> None:
    rest_user, graphql_user, ws_user = accounts

    async def by_rest() -> None:
        for n in range(each):
            await rest_post(http, rest_user, f"rest-{n}")

    async def by_graphql() -> None:
        for n in range(each):
            await gql_data(http, graphql_user, SEND_KEYED, {"r": LEDGER, "c": f"graphql-{n}"})

    async def by_ws() -> None:
        async with chat_client(service.ws_url, ws_user.token) as ws:
            for n in range(each):
                ack = await request(ws, {"type": "message", "room": LEDGER, "content": f"ws-{n}"})
                assert ack["type"] == "ack"

    await asyncio.gather(by_rest(), by_graphql(), by_ws())


@pytest.mark.checklist(29, "rest")
async def test_rest_history_is_in_commit_order(
    http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair
    acknowledged = []
    for n in range(10):
        acknowledged.append(await rest_post(http, alice if n % 2 else bob, f"m{n}"))
    assert await rest_history(http, alice) == acknowledged == sorted(acknowledged)


@pytest.mark.checklist(29, "ws")
async def test_the_live_stream_equals_history_on_ws(
    service: Service,
    http: httpx.AsyncClient,
    make_account: MakeAccount,
    pair: tuple[Account, Account],
) -> None:
    alice, _ = pair
    senders = [await make_account() for _ in range(3)]
    async with chat_client(service.ws_url, alice.token) as listener:
        assert (await request(listener, {"type": "join", "room": LEDGER}))["type"] == "joined"
        await send_from_every_door(service, http, senders, 8)
        live = [(await recv(listener))["id"] for _ in range(24)]
    assert live == sorted(live)
    assert live == await rest_history(http, alice)


@pytest.mark.checklist(29, "graphql")
async def test_the_live_stream_equals_history_on_graphql(
    service: Service,
    http: httpx.AsyncClient,
    make_account: MakeAccount,
    pair: tuple[Account, Account],
) -> None:
    alice, _ = pair
    senders = [await make_account() for _ in range(3)]
    async with subscriber(service) as client:
        await client.send({"type": "connection_init", "payload": alice.headers})
        assert (await client.receive())["type"] == "connection_ack"
        await client.send(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": ROOM_SUBSCRIPTION, "variables": {"r": LEDGER}},
            }
        )
        await asyncio.sleep(0.2)
        await send_from_every_door(service, http, senders, 8)
        live = [
            int((await client.receive())["payload"]["data"]["roomMessages"]["id"])
            for _ in range(24)
        ]
    history = await gql_data(http, alice, HISTORY, {"r": LEDGER})
    assert live == sorted(live)
    assert live == [int(e["node"]["id"]) for e in history["roomMessages"]["edges"]]


@pytest.mark.checklist(30, "rest")
async def test_rest_history_after_the_last_id_misses_nothing(
    http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair
    seen = [await rest_post(http, alice, f"before-{n}") for n in range(3)]
    missed = [await rest_post(http, bob, f"while-away-{n}") for n in range(5)]
    assert await rest_history(http, bob, after=seen[-1]) == missed
    assert await rest_history(http, bob, after=missed[-1]) == []


@pytest.mark.checklist(30, "ws")
async def test_a_rejoin_after_the_last_id_misses_nothing_on_ws(
    service: Service, http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair
    async with chat_client(service.ws_url, bob.token) as ws:
        await request(ws, {"type": "join", "room": LEDGER})
        first = await rest_post(http, alice, "seen")
        assert (await recv(ws))["id"] == first
    missed = [await rest_post(http, alice, f"while-away-{n}") for n in range(5)]
    async with chat_client(service.ws_url, bob.token) as ws:
        joined = await request(ws, {"type": "join", "room": LEDGER, "after": first})
        assert joined["type"] == "joined"
        # replayed frames came before `joined`, and live ones follow
        live = await rest_post(http, alice, "back")
        frames = [await recv(ws) for _ in range(len(missed) + 1)]
    assert [f["id"] for f in frames] == [*missed, live]
    assert await rest_history(http, bob) == [first, *missed, live]


@pytest.mark.checklist(30, "graphql")
async def test_paging_and_subscribing_after_the_last_id_miss_nothing_on_graphql(
    service: Service, http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair
    await gql_data(http, alice, SEND_KEYED, {"r": LEDGER, "c": "seen"})
    page = await gql_data(http, bob, HISTORY, {"r": LEDGER})
    cursor = page["roomMessages"]["edges"][-1]["cursor"]
    last_id = page["roomMessages"]["edges"][-1]["node"]["id"]
    missed = [await rest_post(http, alice, f"while-away-{n}") for n in range(5)]
    after = await gql_data(http, bob, HISTORY, {"r": LEDGER, "after": cursor})
    assert [int(e["node"]["id"]) for e in after["roomMessages"]["edges"]] == missed
    async with subscriber(service) as client:
        await client.send({"type": "connection_init", "payload": bob.headers})
        assert (await client.receive())["type"] == "connection_ack"
        await client.send(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {
                    "query": ROOM_SUBSCRIPTION,
                    "variables": {"r": LEDGER, "after": last_id},
                },
            }
        )
        replayed = [
            int((await client.receive())["payload"]["data"]["roomMessages"]["id"]) for _ in missed
        ]
        live = await rest_post(http, alice, "back")
        assert int((await client.receive())["payload"]["data"]["roomMessages"]["id"]) == live
    assert replayed == missed
