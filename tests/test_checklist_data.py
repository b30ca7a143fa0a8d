"""Security checklist 27, 29 and 30 (data safety), door by door.

Line 28 (SIGTERM and SIGKILL mid-traffic) needs a server process of its
own: ``test_fault_sigkill.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.authz_world import subscriber
from tests.conftest import Account, MakeAccount
from tests.harness import Service
from tests.ws_helpers import chat_client, recv, request

ROOM = "ledger"
SEND = (
    "mutation ($r: String!, $c: String!, $k: String) "
    "{ sendMessage(room: $r, content: $c, clientId: $k) { id } }"
)
SEND_DM = (
    "mutation ($u: ID!, $c: String!, $k: String) "
    "{ sendDirectMessage(to: $u, content: $c, clientId: $k) { id } }"
)
HISTORY = (
    "query ($r: String!, $after: String) { roomMessages(room: $r, first: 100, after: $after) "
    "{ edges { cursor node { id content } } } }"
)
ROOM_SUBSCRIPTION = (
    "subscription ($r: String!, $after: ID) { roomMessages(room: $r, after: $after) { id } }"
)


@pytest.fixture
async def pair(http: httpx.AsyncClient, make_account: MakeAccount) -> tuple[Account, Account]:
    alice, bob = await make_account(), await make_account()
    created = await http.post("/chat/rooms", json={"name": ROOM}, headers=alice.headers)
    assert created.status_code == 201
    return alice, bob


async def rest_history(http: httpx.AsyncClient, account: Account, after: int = 0) -> list[int]:
    response = await http.get(
        f"/chat/rooms/{ROOM}/messages",
        params={"after": after, "limit": 100},
        headers=account.headers,
    )
    assert response.status_code == 200
    return [m["id"] for m in response.json()]


async def rest_dms(http: httpx.AsyncClient, account: Account, peer: Account) -> list[int]:
    response = await http.get(f"/chat/dm/{peer.id}", headers=account.headers)
    return [m["id"] for m in response.json()]


async def gql(
    http: httpx.AsyncClient, account: Account, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=account.headers
    )
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


async def rest_post(http: httpx.AsyncClient, account: Account, content: str) -> int:
    response = await http.post(
        f"/chat/rooms/{ROOM}/messages", json={"content": content}, headers=account.headers
    )
    assert response.status_code == 201
    message_id: int = response.json()["id"]
    return message_id


# --- 27. a resend with the same client_id ------------------------------------------------


async def test_27_a_resent_client_id_stores_one_row_on_rest(
    http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair

    async def post(path: str) -> int:
        response = await http.post(
            path, json={"content": "once", "client_id": "k-1"}, headers=alice.headers
        )
        assert response.status_code == 201
        message_id: int = response.json()["id"]
        return message_id

    for path in (f"/chat/rooms/{ROOM}/messages", f"/chat/dm/{bob.id}"):
        first = await post(path)
        again = await asyncio.gather(*(post(path) for _ in range(4)))
        assert set(again) == {first}
    assert len(await rest_history(http, alice)) == 1
    assert len(await rest_dms(http, bob, alice)) == 1


async def test_27_a_resent_client_id_stores_one_row_on_graphql(
    http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair
    for query, variables, key in (
        (SEND, {"r": ROOM, "c": "once", "k": "k-1"}, "sendMessage"),
        (SEND_DM, {"u": str(bob.id), "c": "once", "k": "k-1"}, "sendDirectMessage"),
    ):
        results = await asyncio.gather(*(gql(http, alice, query, variables) for _ in range(4)))
        assert len({r[key]["id"] for r in results}) == 1
    assert len(await rest_history(http, alice)) == 1
    assert len(await rest_dms(http, bob, alice)) == 1


async def test_27_a_resent_client_id_stores_one_row_on_ws(
    service: Service, http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair
    async with chat_client(service.ws_url, alice.token) as ws:
        for frame in (
            {"type": "message", "room": ROOM, "content": "once", "client_id": "k-1"},
            {"type": "dm", "to": bob.id, "content": "once", "client_id": "k-1"},
        ):
            acks = [await request(ws, dict(frame)) for _ in range(3)]
            assert {a["type"] for a in acks} == {"ack"}
            assert len({a["id"] for a in acks}) == 1
    assert len(await rest_history(http, alice)) == 1
    assert len(await rest_dms(http, bob, alice)) == 1


# --- 29. commit order, and history equals the live stream ------------------------------------


async def send_from_every_door(
    service: Service, http: httpx.AsyncClient, accounts: list[Account], each: int
) -> None:
    rest_user, graphql_user, ws_user = accounts

    async def by_rest() -> None:
        for n in range(each):
            await rest_post(http, rest_user, f"rest-{n}")

    async def by_graphql() -> None:
        for n in range(each):
            await gql(http, graphql_user, SEND, {"r": ROOM, "c": f"graphql-{n}"})

    async def by_ws() -> None:
        async with chat_client(service.ws_url, ws_user.token) as ws:
            for n in range(each):
                ack = await request(ws, {"type": "message", "room": ROOM, "content": f"ws-{n}"})
                assert ack["type"] == "ack"

    await asyncio.gather(by_rest(), by_graphql(), by_ws())


async def test_29_rest_history_is_in_commit_order(
    http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair
    acknowledged = []
    for n in range(10):
        acknowledged.append(await rest_post(http, alice if n % 2 else bob, f"m{n}"))
    assert await rest_history(http, alice) == acknowledged == sorted(acknowledged)


async def test_29_the_live_stream_equals_history_on_ws(
    service: Service,
    http: httpx.AsyncClient,
    make_account: MakeAccount,
    pair: tuple[Account, Account],
) -> None:
    alice, _ = pair
    senders = [await make_account() for _ in range(3)]
    async with chat_client(service.ws_url, alice.token) as listener:
        assert (await request(listener, {"type": "join", "room": ROOM}))["type"] == "joined"
        await send_from_every_door(service, http, senders, 8)
        live = [(await recv(listener))["id"] for _ in range(24)]
    assert live == sorted(live)
    assert live == await rest_history(http, alice)


async def test_29_the_live_stream_equals_history_on_graphql(
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
                "payload": {"query": ROOM_SUBSCRIPTION, "variables": {"r": ROOM}},
            }
        )
        await asyncio.sleep(0.2)
        await send_from_every_door(service, http, senders, 8)
        live = [
            int((await client.receive())["payload"]["data"]["roomMessages"]["id"])
            for _ in range(24)
        ]
    history = await gql(http, alice, HISTORY, {"r": ROOM})
    assert live == sorted(live)
    assert live == [int(e["node"]["id"]) for e in history["roomMessages"]["edges"]]


# --- 30. reconnecting with after ----------------------------------------------------------


async def test_30_rest_history_after_the_last_id_misses_nothing(
    http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair
    seen = [await rest_post(http, alice, f"before-{n}") for n in range(3)]
    missed = [await rest_post(http, bob, f"while-away-{n}") for n in range(5)]
    assert await rest_history(http, bob, after=seen[-1]) == missed
    assert await rest_history(http, bob, after=missed[-1]) == []


async def test_30_a_rejoin_after_the_last_id_misses_nothing_on_ws(
    service: Service, http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair
    async with chat_client(service.ws_url, bob.token) as ws:
        await request(ws, {"type": "join", "room": ROOM})
        first = await rest_post(http, alice, "seen")
        assert (await recv(ws))["id"] == first
    missed = [await rest_post(http, alice, f"while-away-{n}") for n in range(5)]
    async with chat_client(service.ws_url, bob.token) as ws:
        joined = await request(ws, {"type": "join", "room": ROOM, "after": first})
        assert joined["type"] == "joined"
        # replayed frames came before `joined`, and live ones follow
        live = await rest_post(http, alice, "back")
        frames = [await recv(ws) for _ in range(len(missed) + 1)]
    assert [f["id"] for f in frames] == [*missed, live]
    assert await rest_history(http, bob) == [first, *missed, live]


async def test_30_paging_and_subscribing_after_the_last_id_miss_nothing_on_graphql(
    service: Service, http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair
    await gql(http, alice, SEND, {"r": ROOM, "c": "seen"})
    page = await gql(http, bob, HISTORY, {"r": ROOM})
    cursor = page["roomMessages"]["edges"][-1]["cursor"]
    last_id = page["roomMessages"]["edges"][-1]["node"]["id"]
    missed = [await rest_post(http, alice, f"while-away-{n}") for n in range(5)]
    after = await gql(http, bob, HISTORY, {"r": ROOM, "after": cursor})
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
                    "variables": {"r": ROOM, "after": last_id},
                },
            }
        )
        replayed = [
            int((await client.receive())["payload"]["data"]["roomMessages"]["id"]) for _ in missed
        ]
        live = await rest_post(http, alice, "back")
        assert int((await client.receive())["payload"]["data"]["roomMessages"]["id"]) == live
    assert replayed == missed
