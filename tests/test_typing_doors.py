"""Typing through every door: a signal reaches the other participants live,
carries its expiry, is throttled per user and conversation, and is never stored.

Refusals are those of sending a message there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import MakeAccount, data_of
from tests.harness import Service
from tests.presence_helpers import gql_socket, parse_time, room_with, settle
from tests.ws_helpers import chat_client, join, recv, request, silence

TTL = timedelta(seconds=5)  # TYPING_TTL_SECONDS (default)
THROTTLE = 2.0  # TYPING_THROTTLE_SECONDS (default)
SLACK = timedelta(seconds=2)

TYPING = """
subscription ($room: String) {
  typing(room: $room) { expiresAt user { id } room { id name } }
}
"""
SIGNAL = """
mutation ($room: String!) { signalTyping(room: $room) { expiresAt delivered } }
"""
SIGNAL_DM = """
mutation ($to: ID!) { signalDirectTyping(to: $to) { expiresAt delivered } }
"""


def _expires_in_ttl(value: str) -> datetime:
    expires = parse_time(value)
    assert abs(expires - (datetime.now(UTC) + TTL)) < SLACK, value
    return expires


async def test_ws_typing_reaches_the_room_once_per_throttle(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    room = await room_with(http, alice, "desk", bob)
    async with (
        chat_client(service.ws_url, alice.token) as a,
        chat_client(service.ws_url, bob.token) as b,
    ):
        await join(b, room)
        sent = await request(a, {"type": "typing", "room": "desk"})
        assert sent["type"] == "typing_sent"
        assert sent["delivered"] is True
        expires = _expires_in_ttl(sent["expires_at"])
        got = await recv(b)
        assert got == {
            "type": "typing",
            "from_user": alice.id,
            "expires_at": sent["expires_at"],
            "room": "desk",
            "room_id": room,
        }
        assert parse_time(got["expires_at"]) == expires
        again = await request(a, {"type": "typing", "room": room})
        assert again["delivered"] is False  # throttled: the first one still holds
        await silence(b, THROTTLE * 0.5)
    history = await http.get(f"/chat/rooms/{room}/messages", headers=bob.headers)
    assert history.json() == []  # nothing stored


async def test_graphql_mutation_reaches_a_graphql_subscriber(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    room = await room_with(http, alice, "board", bob)
    async with gql_socket(service.http_url, bob.token) as b:
        await b.subscribe("t", TYPING, {"room": str(room)})
        await settle(service, 1)
        response = await http.post(
            "/graphql",
            json={"query": SIGNAL, "variables": {"room": "board"}},
            headers=alice.headers,
        )
        receipt = data_of(response.json())["signalTyping"]
        assert receipt["delivered"] is True
        _expires_in_ttl(receipt["expiresAt"])
        got = (await b.next_data("t"))["typing"]
        assert got["user"] == {"id": str(alice.id)}
        assert got["room"] == {"id": str(room), "name": "board"}
        assert parse_time(got["expiresAt"]) == parse_time(receipt["expiresAt"])


async def test_rest_posts_reach_ws_and_graphql(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    room = await room_with(http, alice, "hall", bob)
    async with (
        chat_client(service.ws_url, bob.token) as b,
        chat_client(service.ws_url, carol.token) as c,
        gql_socket(service.http_url, bob.token) as g,
    ):
        await join(b, room)
        await g.subscribe("dm", TYPING, {})
        await settle(service, 1)
        response = await http.post(f"/chat/rooms/{room}/typing", headers=alice.headers)
        assert response.status_code == 202, response.text
        assert response.json()["delivered"] is True
        _expires_in_ttl(response.json()["expires_at"])
        got = await recv(b)
        assert (got["type"], got["from_user"], got["room_id"]) == ("typing", alice.id, room)

        response = await http.post(f"/chat/dm/{bob.id}/typing", headers=alice.headers)
        assert response.status_code == 202, response.text
        got = await recv(b)  # on bob's own channel: every connection of his
        assert got["type"] == "typing"
        assert "room_id" not in got
        assert (got["from_user"], got["to_user"]) == (alice.id, bob.id)
        live = (await g.next_data("dm"))["typing"]
        assert live["user"] == {"id": str(alice.id)}
        assert live["room"] is None
        await silence(c, 0.3)  # not a participant


async def test_dm_typing_on_ws(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    async with (
        chat_client(service.ws_url, alice.token) as a,
        chat_client(service.ws_url, bob.token) as b,
    ):
        sent = await request(a, {"type": "typing", "to": str(bob.id)})
        assert sent["delivered"] is True
        got = await recv(b)
        assert got == {
            "type": "typing",
            "from_user": alice.id,
            "expires_at": sent["expires_at"],
            "to_user": bob.id,
        }
        await silence(a, 0.2)  # the sender's own channel gets nothing


async def test_the_refusals_of_sending_a_message(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, eve = await make_account(), await make_account()
    room = await room_with(http, alice, "vault", private=True)
    for path, status, code in [
        (f"/chat/rooms/{room}/typing", 404, "NOT_FOUND"),
        ("/chat/rooms/nowhere/typing", 404, "NOT_FOUND"),
        (f"/chat/dm/{eve.id}/typing", 422, "BAD_USER_INPUT"),  # to oneself
        ("/chat/dm/999999/typing", 404, "NOT_FOUND"),
        ("/chat/dm/abc/typing", 422, "BAD_USER_INPUT"),
    ]:
        response = await http.post(path, headers=eve.headers)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), path
    anonymous = await http.post(f"/chat/rooms/{room}/typing")
    assert anonymous.status_code == 401
    async with chat_client(service.ws_url, eve.token) as e:
        frames: list[tuple[dict[str, Any], str]] = [
            ({"type": "typing", "room": room}, "NOT_FOUND"),
            ({"type": "typing", "to": eve.id}, "BAD_USER_INPUT"),
            ({"type": "typing"}, "BAD_USER_INPUT"),
            ({"type": "typing", "room": room, "to": alice.id}, "BAD_USER_INPUT"),
            ({"type": "typing", "to": True}, "BAD_USER_INPUT"),
        ]
        for frame, code in frames:
            reply = await request(e, frame)
            assert (reply["type"], reply["code"]) == ("error", code), frame
    for query, variables in [(SIGNAL, {"room": str(room)}), (SIGNAL_DM, {"to": "999999"})]:
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=eve.headers
        )
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["NOT_FOUND"]
    async with gql_socket(service.http_url, eve.token) as g:
        await g.subscribe("t", TYPING, {"room": str(room)})
        message = await g.receive()
        assert message["type"] == "error", message
        assert message["payload"][0]["extensions"]["code"] == "NOT_FOUND"
