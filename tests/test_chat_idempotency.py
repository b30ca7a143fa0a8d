"""``client_id`` is scoped to its target and content (issue 11, finding 5).

Reusing a key for another room, another DM recipient or other content used
to answer success with the first message and store nothing: a silent data
loss. Now it is CONFLICT on every door; a true retry still gets the stored
message back.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import Account, GraphQL, MakeAccount, error_codes
from tests.harness import Service
from tests.helpers import LEDGER, SEND_KEYED, gql_data, rest_history
from tests.ws_helpers import chat_client, request


async def _rooms(http: httpx.AsyncClient, owner: Account, *names: str) -> None:
    for name in names:
        response = await http.post("/chat/rooms", json={"name": name}, headers=owner.headers)
        assert response.status_code == 201, response.text


async def _history(http: httpx.AsyncClient, who: Account, room: str) -> list[str]:
    response = await http.get(f"/chat/rooms/{room}/messages", headers=who.headers)
    assert response.status_code == 200, response.text
    return [m["content"] for m in response.json()]


async def test_rest_client_id_reused_elsewhere_is_409_and_a_retry_is_201(
    http: httpx.AsyncClient, member: Account
) -> None:
    await _rooms(http, member, "general", "afterworks")
    body = {"content": "hello", "client_id": "k-1"}
    first = await http.post("/chat/rooms/general/messages", json=body, headers=member.headers)
    assert first.status_code == 201, first.text
    retry = await http.post("/chat/rooms/general/messages", json=body, headers=member.headers)
    assert retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]

    other_room = await http.post(
        "/chat/rooms/afterworks/messages", json=body, headers=member.headers
    )
    assert other_room.status_code == 409, other_room.text
    assert other_room.json()["error"]["code"] == "CONFLICT"
    other_text = await http.post(
        "/chat/rooms/general/messages",
        json={"content": "changed", "client_id": "k-1"},
        headers=member.headers,
    )
    assert other_text.status_code == 409
    assert await _history(http, member, "afterworks") == []
    assert await _history(http, member, "general") == ["hello"]


async def test_rest_dm_client_id_reused_for_another_recipient_is_409(
    http: httpx.AsyncClient, member: Account, make_account: MakeAccount
) -> None:
    bob = await make_account("bob@example.com")
    carol = await make_account("carol@example.com")
    body = {"content": "yo", "client_id": "d-1"}
    first = await http.post(f"/chat/dm/{bob.id}", json=body, headers=member.headers)
    assert first.status_code == 201
    retry = await http.post(f"/chat/dm/{bob.id}", json=body, headers=member.headers)
    assert retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    elsewhere = await http.post(f"/chat/dm/{carol.id}", json=body, headers=member.headers)
    assert elsewhere.status_code == 409, elsewhere.text
    changed = await http.post(
        f"/chat/dm/{bob.id}", json={"content": "other", "client_id": "d-1"}, headers=member.headers
    )
    assert changed.status_code == 409
    history = await http.get(f"/chat/dm/{carol.id}", headers=member.headers)
    assert history.json() == []


SEND = (
    "mutation($r: String!, $c: String!) "
    '{ sendMessage(room: $r, content: $c, clientId: "g-1") { id } }'
)
SEND_DM = (
    "mutation($to: ID!, $c: String!) { sendDirectMessage(to: $to, content: $c, "
    'clientId: "g-2") { id } }'
)


async def test_graphql_client_id_reuse_is_conflict(
    graphql: GraphQL, http: httpx.AsyncClient, member: Account, make_account: MakeAccount
) -> None:
    bob = await make_account("bob@example.com")
    carol = await make_account("carol@example.com")
    await _rooms(http, member, "general", "afterworks")
    first = await graphql(SEND, {"r": "general", "c": "hi"}, token=member.token)
    again = await graphql(SEND, {"r": "general", "c": "hi"}, token=member.token)
    assert again["data"]["sendMessage"]["id"] == first["data"]["sendMessage"]["id"]
    assert error_codes(await graphql(SEND, {"r": "afterworks", "c": "hi"}, token=member.token)) == [
        "CONFLICT"
    ]
    assert error_codes(await graphql(SEND, {"r": "general", "c": "ho"}, token=member.token)) == [
        "CONFLICT"
    ]
    dm = await graphql(SEND_DM, {"to": str(bob.id), "c": "yo"}, token=member.token)
    assert dm["data"]["sendDirectMessage"]["id"]
    reused = await graphql(SEND_DM, {"to": str(carol.id), "c": "yo"}, token=member.token)
    assert error_codes(reused) == ["CONFLICT"]
    assert await _history(http, member, "afterworks") == []


async def test_ws_client_id_reuse_is_a_conflict_error_frame(
    service: Service, http: httpx.AsyncClient, member: Account, make_account: MakeAccount
) -> None:
    bob = await make_account("bob@example.com")
    carol = await make_account("carol@example.com")
    await _rooms(http, member, "general", "afterworks")
    async with chat_client(service.ws_url, member.token) as ws:
        frame = {"type": "message", "room": "general", "content": "hi", "client_id": "w-1"}
        ack = await request(ws, dict(frame))
        assert ack["type"] == "ack", ack
        again = await request(ws, dict(frame))
        assert again["type"] == "ack", again
        assert again["id"] == ack["id"]
        moved = await request(ws, {**frame, "room": "afterworks"})
        assert (moved["type"], moved["code"]) == ("error", "CONFLICT"), moved
        dm = {"type": "dm", "to": bob.id, "content": "yo", "client_id": "w-2"}
        assert (await request(ws, dict(dm)))["type"] == "ack"
        other = await request(ws, {**dm, "to": carol.id})
        assert (other["type"], other["code"]) == ("error", "CONFLICT"), other
        # The connection is still usable.
        assert (await request(ws, {**frame, "client_id": "w-3"}))["type"] == "ack"
    assert await _history(http, member, "afterworks") == []


SEND_DM_KEYED = (
    "mutation ($u: ID!, $c: String!, $k: String) "
    "{ sendDirectMessage(to: $u, content: $c, clientId: $k) { id } }"
)


async def rest_dms(http: httpx.AsyncClient, account: Account, peer: Account) -> list[int]:
    response = await http.get(f"/chat/dm/{peer.id}", headers=account.headers)
    return [m["id"] for m in response.json()]


@pytest.mark.checklist(27, "rest")
async def test_a_resent_client_id_stores_one_row_on_rest(
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

    for path in (f"/chat/rooms/{LEDGER}/messages", f"/chat/dm/{bob.id}"):
        first = await post(path)
        again = await asyncio.gather(*(post(path) for _ in range(4)))
        assert set(again) == {first}
    assert len(await rest_history(http, alice)) == 1
    assert len(await rest_dms(http, bob, alice)) == 1


@pytest.mark.checklist(27, "graphql")
async def test_a_resent_client_id_stores_one_row_on_graphql(
    http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair
    for query, variables, key in (
        (SEND_KEYED, {"r": LEDGER, "c": "once", "k": "k-1"}, "sendMessage"),
        (SEND_DM_KEYED, {"u": str(bob.id), "c": "once", "k": "k-1"}, "sendDirectMessage"),
    ):
        results = await asyncio.gather(*(gql_data(http, alice, query, variables) for _ in range(4)))
        assert len({r[key]["id"] for r in results}) == 1
    assert len(await rest_history(http, alice)) == 1
    assert len(await rest_dms(http, bob, alice)) == 1


@pytest.mark.checklist(27, "ws")
async def test_a_resent_client_id_stores_one_row_on_ws(
    service: Service, http: httpx.AsyncClient, pair: tuple[Account, Account]
) -> None:
    alice, bob = pair
    async with chat_client(service.ws_url, alice.token) as ws:
        for frame in (
            {"type": "message", "room": LEDGER, "content": "once", "client_id": "k-1"},
            {"type": "dm", "to": bob.id, "content": "once", "client_id": "k-1"},
        ):
            acks = [await request(ws, dict(frame)) for _ in range(3)]
            assert {a["type"] for a in acks} == {"ack"}
            assert len({a["id"] for a in acks}) == 1
    assert len(await rest_history(http, alice)) == 1
    assert len(await rest_dms(http, bob, alice)) == 1
