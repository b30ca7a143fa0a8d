"""Presence through every door: who is online, and live online/offline changes.

A user is online while one of their connections (chat WS or GraphQL WS) is
open; members of a room they share (that asked for it) and their online DM
partners hear of the change; a reconnect within PRESENCE_GRACE_SECONDS (1 s
in the suite) announces nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import MakeAccount, data_of
from tests.harness import Service
from tests.presence_helpers import came_online, gql_socket, parse_time, room_with, settle
from tests.ws_helpers import chat_client, join, open_ws, recv, request, silence

GRACE = 1.0  # PRESENCE_GRACE_SECONDS of the suite (tests/harness.py)
SLACK = timedelta(seconds=2)

PRESENCE_CHANGES = """
subscription ($room: String) {
  presenceChanges(room: $room) { online lastSeen user { id } room { id } }
}
"""
ROOM_PRESENCE = """
query ($room: String!) { roomPresence(room: $room) { online lastSeen user { id } } }
"""


def _near_now(value: str) -> None:
    assert abs(parse_time(value) - datetime.now(UTC)) < SLACK, value


async def test_a_member_sees_another_come_online_then_offline_after_the_grace(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    room = await room_with(http, alice, "lobby", bob, carol)
    async with (
        chat_client(service.ws_url, alice.token) as a,
        chat_client(service.ws_url, carol.token) as c,
    ):
        await join(a, room)
        await join(c, room)  # carol never asks for presence: she gets none
        listed = await request(a, {"type": "presence", "room": room})
        assert listed["type"] == "presence"
        assert (listed["room"], listed["room_id"]) == ("lobby", room)
        users = {u["id"]: u for u in listed["users"]}
        assert users[alice.id]["online"] is True
        _near_now(users[alice.id]["last_seen"])
        assert users[bob.id] == {"id": bob.id, "online": False, "last_seen": None}
        assert [u["online"] for u in listed["users"]] == [True, True, False]  # online first

        b = await open_ws(service.ws_url, bob.token)
        came = await came_online(a, alice.id)
        assert came["type"] == "presence_changed"
        assert (came["user_id"], came["online"], came["room_id"]) == (bob.id, True, room)
        _near_now(came["last_seen"])
        await b.close()
        closed = asyncio.get_running_loop().time()
        went = await recv(a)
        waited = asyncio.get_running_loop().time() - closed
        assert (went["type"], went["user_id"], went["online"]) == (
            "presence_changed",
            bob.id,
            False,
        )
        assert waited >= GRACE * 0.9, waited  # not before the grace period
        _near_now(went["last_seen"])
        await silence(c, 0.2)

        listed = await request(a, {"type": "presence", "room": str(room)})
        bob_now = next(u for u in listed["users"] if u["id"] == bob.id)
        assert bob_now["online"] is False
        assert bob_now["last_seen"] == went["last_seen"]


async def test_a_reconnect_within_the_grace_announces_nothing(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    room = await room_with(http, alice, "flaky", bob)
    async with chat_client(service.ws_url, alice.token) as a:
        await join(a, room)
        await request(a, {"type": "presence", "room": room})
        b = await open_ws(service.ws_url, bob.token)
        came = await came_online(a, alice.id)
        assert (came["user_id"], came["online"]) == (bob.id, True)
        for _ in range(3):  # three flaps, each back well within the grace
            await b.close()
            b = await open_ws(service.ws_url, bob.token)
        await silence(a, GRACE + 1.5)
        await b.close()
        went = await recv(a)
        assert (went["user_id"], went["online"]) == (bob.id, False)
        await silence(a, GRACE + 0.5)


async def test_online_while_any_connection_of_any_door_is_open(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    room = await room_with(http, alice, "doors", bob)
    async with chat_client(service.ws_url, alice.token) as a:
        await join(a, room)
        await request(a, {"type": "presence", "room": room})
        async with gql_socket(service.http_url, bob.token):
            came = await came_online(a, alice.id)
            assert (came["user_id"], came["online"]) == (bob.id, True)
            b = await open_ws(service.ws_url, bob.token)
            await b.close()  # the GraphQL socket still holds bob online
            await silence(a, GRACE + 1.5)
        went = await recv(a)
        assert (went["user_id"], went["online"]) == (bob.id, False)


async def test_graphql_subscription_and_query(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    room = await room_with(http, alice, "graphs", bob)
    async with gql_socket(service.http_url, alice.token) as a:
        await a.subscribe("p", PRESENCE_CHANGES, {"room": "graphs"})
        await settle(service, 1)
        async with gql_socket(service.http_url, bob.token):
            came = (await a.next_data("p"))["presenceChanges"]
            if came["user"] == {"id": str(alice.id)}:
                # Alice's own socket brought her online; that change is
                # announced after her socket opened, so it can reach her own
                # subscription (first, as the changes go out in order).
                assert came["online"] is True
                came = (await a.next_data("p"))["presenceChanges"]
            assert came["user"] == {"id": str(bob.id)}
            assert came["online"] is True
            assert came["room"] == {"id": str(room)}
            response = await http.post(
                "/graphql",
                json={"query": ROOM_PRESENCE, "variables": {"room": str(room)}},
                headers=alice.headers,
            )
            listed = data_of(response.json())["roomPresence"]
            assert {e["user"]["id"]: e["online"] for e in listed} == {
                str(alice.id): True,
                str(bob.id): True,
            }
        went = (await a.next_data("p"))["presenceChanges"]
        assert went["user"] == {"id": str(bob.id)}
        assert went["online"] is False
        _near_now(went["lastSeen"])


async def test_dm_partners_hear_of_it_and_list_it(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    sent = await http.post(f"/chat/dm/{bob.id}", json={"content": "hi"}, headers=alice.headers)
    assert sent.status_code == 201
    async with (
        chat_client(service.ws_url, alice.token) as a,
        gql_socket(service.http_url, alice.token) as g,
        chat_client(service.ws_url, carol.token) as c,
    ):
        listed = await request(a, {"type": "presence"})
        assert "room" not in listed
        assert listed["users"] == [{"id": bob.id, "online": False, "last_seen": None}]
        await request(c, {"type": "presence"})  # carol has no DM with bob
        await g.subscribe("p", PRESENCE_CHANGES, {})
        await settle(service, 1)
        async with chat_client(service.ws_url, bob.token):
            came = await recv(a)
            assert came["type"] == "presence_changed"
            assert "room_id" not in came
            assert (came["user_id"], came["online"]) == (bob.id, True)
            live = (await g.next_data("p"))["presenceChanges"]
            assert live["user"] == {"id": str(bob.id)}
            assert live["room"] is None
        await silence(c, GRACE + 1)


async def test_rest_presence_and_refusals(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob, eve = await make_account(), await make_account(), await make_account()
    room = await room_with(http, alice, "quiet", bob, private=True)
    async with chat_client(service.ws_url, bob.token):
        response = await http.get(f"/chat/rooms/{room}/presence", headers=alice.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["room"], body["room_id"]) == ("quiet", room)
        online = {u["id"]: u["online"] for u in body["users"]}
        assert online == {alice.id: False, bob.id: True}
        by_name = await http.get("/chat/rooms/quiet/presence", headers=bob.headers)
        assert by_name.status_code == 200
    outsider = await http.get(f"/chat/rooms/{room}/presence", headers=eve.headers)
    assert (outsider.status_code, outsider.json()["error"]["code"]) == (404, "NOT_FOUND")
    missing = await http.get("/chat/rooms/nowhere/presence", headers=alice.headers)
    assert missing.status_code == 404
    anonymous = await http.get(f"/chat/rooms/{room}/presence")
    assert anonymous.status_code == 401
    async with chat_client(service.ws_url, eve.token) as e:
        refused = await request(e, {"type": "presence", "room": room})
        assert (refused["type"], refused["code"]) == ("error", "NOT_FOUND")
        bad = await request(e, {"type": "presence", "room": [1]})
        assert (bad["code"], bad["field"]) == ("BAD_USER_INPUT", "room")
    response = await http.post(
        "/graphql",
        json={"query": ROOM_PRESENCE, "variables": {"room": str(room)}},
        headers=eve.headers,
    )
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["NOT_FOUND"]
