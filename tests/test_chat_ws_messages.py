"""Direct messages over the WebSocket server, idempotent sends, the message
rate limit, and the same messages on the REST and GraphQL doors."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Account, GraphQL, MakeAccount, data_of
from tests.harness import Service
from tests.ws_helpers import (
    chat_client,
    create_room,
    join,
    recv,
    recv_until,
    request,
    rest_history,
    say,
    send,
    silence,
)

ROOM_MESSAGES = """
query ($room: String!) {
  roomMessages(room: $room) { edges { node { id content clientId author { id } } } }
}
"""
DIRECT_MESSAGES = """
query ($with: ID!) {
  directMessages(withUser: $with) { edges { node { id content fromUser { id } toUser { id } } } }
}
"""


# --- direct messages ---------------------------------------------------------------------


async def test_a_dm_reaches_every_connection_of_both_parties_only(
    service: Service, make_account: MakeAccount
) -> None:
    alice, bob, carol = [await make_account() for _ in range(3)]
    async with (
        chat_client(service.ws_url, alice.token) as a1,
        chat_client(service.ws_url, alice.token) as a2,
        chat_client(service.ws_url, bob.token) as b1,
        chat_client(service.ws_url, bob.token) as b2,
        chat_client(service.ws_url, carol.token) as c,
    ):
        await send(a1, {"type": "dm", "to": bob.id, "content": "yo", "ref": 1})
        ack, early = await recv_until(a1, "ack")
        assert ack["ref"] == 1
        dm = {
            "type": "dm",
            "id": ack["id"],
            "from_user": alice.id,
            "to_user": bob.id,
            "content": "yo",
            "timestamp": ack["timestamp"],
            "client_id": None,
        }
        assert (early or [await recv(a1)]) == [dm]
        for ws in (a2, b1, b2):
            assert await recv(ws) == dm
        await silence(c)


async def test_dm_errors_and_dm_history(service: Service, make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    async with chat_client(service.ws_url, alice.token) as a:
        for frame, code in (
            ({"type": "dm", "to": alice.id, "content": "me"}, "BAD_USER_INPUT"),
            ({"type": "dm", "to": 999_999, "content": "ghost"}, "NOT_FOUND"),
            ({"type": "dm", "to": 0, "content": "zero"}, "BAD_USER_INPUT"),
            ({"type": "dm", "to": bob.id, "content": ""}, "BAD_USER_INPUT"),
            ({"type": "dm_history", "with": 999_999}, "NOT_FOUND"),
        ):
            reply = await request(a, frame)
            assert reply["code"] == code, (frame, reply)
        ids = []
        for i in range(3):
            reply = await request(a, {"type": "dm", "to": str(bob.id), "content": f"d{i}"})
            ids.append(reply["id"])
    async with chat_client(service.ws_url, bob.token) as b:
        history = await request(b, {"type": "dm_history", "with": alice.id})
        assert history["with"] == alice.id
        assert [d["id"] for d in history["messages"]] == ids
        assert history["messages"][0] == {
            "id": ids[0],
            "from_user": alice.id,
            "to_user": bob.id,
            "content": "d0",
            "timestamp": history["messages"][0]["timestamp"],
            "client_id": None,
        }
        page = await request(
            b, {"type": "dm_history", "with": alice.id, "limit": 1, "before": ids[2]}
        )
        assert [d["id"] for d in page["messages"]] == [ids[1]]
        page = await request(b, {"type": "dm_history", "with": alice.id, "after": ids[0]})
        assert [d["id"] for d in page["messages"]] == ids[1:]


# --- idempotency, rate limit ---------------------------------------------------------------


@pytest.mark.checklist(27, "ws")
async def test_a_client_id_retry_stores_once_and_acks_the_same_id(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await create_room(http, alice)
    async with (
        chat_client(service.ws_url, alice.token) as a,
        chat_client(service.ws_url, bob.token) as b,
    ):
        await join(b, "general")
        first = await say(a, "once", client_id="c-1")
        again = await say(a, "once", client_id="c-1")
        assert first == again
        live = await recv(b)
        assert live["id"] == first
        assert live["client_id"] == "c-1"
        await silence(b)  # the retry published nothing
        dm1 = await request(a, {"type": "dm", "to": bob.id, "content": "d", "client_id": "c-1"})
        dm2 = await request(a, {"type": "dm", "to": bob.id, "content": "d", "client_id": "c-1"})
        assert dm1["type"] == dm2["type"] == "ack"
        assert dm1["id"] == dm2["id"]
        assert (await recv(b))["id"] == dm1["id"]
        await silence(b)
    assert [m["id"] for m in await rest_history(http, alice)] == [first]
    dms = (await http.get(f"/chat/dm/{bob.id}", headers=alice.headers)).json()
    assert [d["id"] for d in dms] == [dm1["id"]]


async def test_the_message_rate_limit_is_an_error_frame_with_retry_after_ms(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    await create_room(http, member)
    budget = service.settings.messages_per_window
    async with chat_client(service.ws_url, member.token) as ws:
        for i in range(budget):
            await send(ws, {"type": "message", "room": "general", "content": f"{i}", "ref": i})
            assert (await recv(ws))["type"] == "ack"
        reply = await request(ws, {"type": "message", "room": "general", "content": "one too many"})
        assert reply["type"] == "error"
        assert reply["code"] == "RATE_LIMITED"
        assert 0 < reply["retry_after_ms"] <= service.settings.messages_window_seconds * 1000
        dm = await request(ws, {"type": "dm", "to": member.id + 1, "content": "dm too"})
        assert dm["code"] in {"RATE_LIMITED", "NOT_FOUND"}
        history = await request(ws, {"type": "room_history", "room": "general", "limit": 100})
        assert len(history["messages"]) == budget  # reads are not throttled by it


# --- across doors ------------------------------------------------------------------------------


async def test_a_rest_post_reaches_a_raw_ws_client(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await create_room(http, alice)
    async with chat_client(service.ws_url, bob.token) as b:
        await join(b, "general")
        response = await http.post(
            "/chat/rooms/general/messages",
            json={"content": "from REST", "client_id": "r1"},
            headers=alice.headers,
        )
        assert response.status_code == 201, response.text
        assert await recv(b) == {"type": "message", **response.json()}
        dm = await http.post(f"/chat/dm/{bob.id}", json={"content": "psst"}, headers=alice.headers)
        assert dm.status_code == 201, dm.text
        assert await recv(b) == {"type": "dm", **dm.json()}


async def test_a_graphql_send_reaches_a_raw_ws_client(
    service: Service, http: httpx.AsyncClient, graphql: GraphQL, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await create_room(http, alice)
    async with chat_client(service.ws_url, bob.token) as b:
        await join(b, "general")
        body = await graphql(
            'mutation { sendMessage(room: "general", content: "from GraphQL") { id } }',
            token=alice.token,
        )
        sent = data_of(body)["sendMessage"]
        live = await recv(b)
        assert live["id"] == int(sent["id"])
        assert live["content"] == "from GraphQL"


async def test_ws_messages_show_in_rest_and_graphql_history(
    service: Service, http: httpx.AsyncClient, graphql: GraphQL, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await create_room(http, alice)
    async with chat_client(service.ws_url, alice.token) as a:
        message_id = await say(a, "from WS", client_id="w1")
        dm = await request(a, {"type": "dm", "to": bob.id, "content": "dm from WS"})
    rest = await rest_history(http, bob)
    assert [(m["id"], m["content"], m["from_user"]) for m in rest] == [
        (message_id, "from WS", alice.id)
    ]
    nodes = [
        e["node"]
        for e in data_of(await graphql(ROOM_MESSAGES, {"room": "general"}, token=bob.token))[
            "roomMessages"
        ]["edges"]
    ]
    assert nodes == [
        {
            "id": str(message_id),
            "content": "from WS",
            "clientId": "w1",
            "author": {"id": str(alice.id)},
        }
    ]
    dms = (await http.get(f"/chat/dm/{alice.id}", headers=bob.headers)).json()
    assert [(d["id"], d["content"]) for d in dms] == [(dm["id"], "dm from WS")]
    gql = data_of(await graphql(DIRECT_MESSAGES, {"with": str(alice.id)}, token=bob.token))
    assert [e["node"]["id"] for e in gql["directMessages"]["edges"]] == [str(dm["id"])]
