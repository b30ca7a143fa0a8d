"""Read markers and unread counts (issue 15), through every door.

A marker only moves forward, is set on GraphQL, REST and WS alike, and
reaches the user's other devices live; unread and mention counts leave out
deleted messages and the user's own, and cost the same number of SQL
queries for 3 rooms as for 30.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Account, GraphQL, MakeAccount, OverrideSettings, data_of, error_codes
from tests.harness import Service
from tests.helpers import QueryCounter, make_room, ws_client
from tests.helpers import gql_join as join
from tests.helpers import rest_dm as dm
from tests.helpers import rest_post as post
from tests.ws_helpers import chat_client, recv, request, silence

MARK_ROOM = """
mutation ($room: String!, $id: ID!) {
  markRoomRead(room: $room, messageId: $id) { roomId roomName withUser lastReadId eventId }
}
"""
MARK_DM = """
mutation ($user: ID!, $id: ID!) {
  markDirectMessagesRead(withUser: $user, messageId: $id) { roomId withUser lastReadId eventId }
}
"""
UNREAD = "{ unreadCounts { roomId roomName withUser lastReadId unread mentions } }"
MARKERS = "subscription { readMarkers { roomId roomName withUser lastReadId eventId } }"


async def unread_rest(http: httpx.AsyncClient, who: Account) -> dict[str, Any]:
    response = await http.get("/chat/unread", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_marker_moves_forward_on_every_door_and_reaches_the_other_devices(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice = await make_account(display_name="alice")
    bob = await make_account(display_name="bob")
    room_id = await make_room(http, alice, "general")
    await join(http, bob, "general")
    ids = [await post(http, alice, "general", f"m{i}") for i in range(4)]
    async with (
        chat_client(service.ws_url, bob.token) as phone,
        chat_client(service.ws_url, bob.token) as laptop,
        ws_client(service, bob.token) as tablet,
    ):
        await tablet.subscribe("m", MARKERS, {})
        # REST moves it to the second message: both sockets and the subscription hear it.
        response = await http.put(
            "/chat/rooms/general/read", json={"message_id": ids[1]}, headers=bob.headers
        )
        assert response.status_code == 200, response.text
        marker = response.json()
        assert marker == {
            "room": "general",
            "room_id": room_id,
            "last_read_id": ids[1],
            "event_id": marker["event_id"],
        }
        for ws in (phone, laptop):
            assert await recv(ws) == {"type": "read_marker", **marker}
        live = (await tablet.next_data("m"))["readMarkers"]
        assert live == {
            "roomId": str(room_id),
            "roomName": "general",
            "withUser": None,
            "lastReadId": str(ids[1]),
            "eventId": str(marker["event_id"]),
        }

        # A lower id on GraphQL changes nothing, publishes nothing, answers the current one.
        body = await graphql(MARK_ROOM, {"room": "general", "id": ids[0]}, token=bob.token)
        assert data_of(body)["markRoomRead"]["lastReadId"] == str(ids[1])
        assert data_of(body)["markRoomRead"]["eventId"] == str(marker["event_id"])
        await silence(laptop)

        # WS moves it further, by room id; the other socket hears it too.
        reply = await request(phone, {"type": "read", "room": room_id, "id": ids[3]})
        assert (reply["type"], reply["last_read_id"]) == ("read_marker", ids[3])
        assert reply["event_id"] > marker["event_id"]
        frame = await recv(laptop)
        assert (frame["type"], frame["last_read_id"]) == ("read_marker", ids[3])

    # The marker is the user's own: alice's is untouched.
    counts = await unread_rest(http, alice)
    assert counts["rooms"] == [
        {"room": "general", "room_id": room_id, "last_read_id": 0, "unread": 0, "mentions": 0}
    ]


async def test_dm_markers_and_bad_input(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice = await make_account(display_name="alice")
    bob = await make_account(display_name="bob")
    carol = await make_account(display_name="carol")
    first = await dm(http, alice, bob.id, "hello")
    second = await dm(http, alice, bob.id, "there")
    await make_room(http, alice, "secret", private=True)
    in_secret = await post(http, alice, "secret", "hidden")
    await make_room(http, carol, "lobby")
    in_lobby = await post(http, carol, "lobby", "hi")

    body = await graphql(MARK_DM, {"user": str(alice.id), "id": str(first)}, token=bob.token)
    assert data_of(body)["markDirectMessagesRead"]["lastReadId"] == str(first)
    response = await http.put(
        f"/chat/dm/{alice.id}/read", json={"message_id": second}, headers=bob.headers
    )
    assert response.json()["last_read_id"] == second
    assert response.json()["with"] == alice.id
    async with chat_client(service.ws_url, bob.token) as ws:
        reply = await request(ws, {"type": "read", "with": alice.id, "id": first})
        assert (reply["type"], reply["last_read_id"]) == ("read_marker", second)
        # Neither or both of room and with, a non-integer id: BAD_USER_INPUT, connection open.
        for frame in (
            {"type": "read", "id": first},
            {"type": "read", "room": "lobby", "with": alice.id, "id": first},
            {"type": "read", "room": "lobby", "id": "x"},
        ):
            reply = await request(ws, frame)
            assert (reply["type"], reply["code"]) == ("error", "BAD_USER_INPUT")
        # Another conversation's DM, another room's message, a private room: NOT_FOUND.
        for frame in (
            {"type": "read", "with": carol.id, "id": first},
            {"type": "read", "room": "lobby", "id": in_secret},
            {"type": "read", "room": "secret", "id": in_secret},
        ):
            reply = await request(ws, frame)
            assert (reply["type"], reply["code"]) == ("error", "NOT_FOUND")

    cases: list[tuple[str, dict[str, Any], int]] = [
        ("/chat/rooms/secret/read", {"message_id": in_secret}, 404),
        ("/chat/rooms/lobby/read", {"message_id": in_secret}, 404),
        ("/chat/rooms/lobby/read", {}, 422),
        ("/chat/rooms/lobby/read", {"message_id": "x"}, 422),
        ("/chat/rooms/lobby/read", {"message_id": -1}, 422),
        (f"/chat/dm/{carol.id}/read", {"message_id": first}, 404),
        ("/chat/dm/999999/read", {"message_id": first}, 404),
    ]
    for path, payload, status in cases:
        response = await http.put(path, json=payload, headers=bob.headers)
        assert response.status_code == status, (path, payload, response.text)
    body = await graphql(MARK_ROOM, {"room": "lobby", "id": "nope"}, token=bob.token)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    response = await http.put("/chat/rooms/lobby/read", json={"message_id": in_lobby})
    assert response.status_code == 401


async def test_unread_counts_leave_out_deleted_and_own_messages_on_every_door(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice = await make_account(display_name="alice")
    bob = await make_account(display_name="bob")
    general = await make_room(http, alice, "general")
    quiet = await make_room(http, alice, "quiet")
    for name in ("general", "quiet"):
        await join(http, bob, name)
    read_up_to = await post(http, alice, "general", "old news")
    await http.put("/chat/rooms/general/read", json={"message_id": read_up_to}, headers=bob.headers)
    await post(http, alice, "general", "one")
    await post(http, alice, "general", "hey @bob")
    gone = await post(http, alice, "general", "oops @bob")
    await http.delete(f"/chat/rooms/general/messages/{gone}", headers=alice.headers)
    await post(http, bob, "general", "my own @bob")
    await post(http, alice, "general", f"<@{bob.id}> again")
    await dm(http, alice, bob.id, "psst")
    await dm(http, alice, bob.id, "psst!")
    await dm(http, bob, alice.id, "mine")

    want_rooms = [
        {"room": "general", "room_id": general, "last_read_id": read_up_to, "unread": 3,
         "mentions": 2},
        {"room": "quiet", "room_id": quiet, "last_read_id": 0, "unread": 0, "mentions": 0},
    ]  # fmt: skip
    want_dms = [{"with": alice.id, "last_read_id": 0, "unread": 2, "mentions": 2}]
    assert await unread_rest(http, bob) == {"rooms": want_rooms, "dms": want_dms}
    async with chat_client(service.ws_url, bob.token) as ws:
        reply = await request(ws, {"type": "unread"})
        assert reply == {"type": "unread", "rooms": want_rooms, "dms": want_dms, "ref": 1} or (
            reply["rooms"],
            reply["dms"],
        ) == (want_rooms, want_dms)
    rows = data_of(await graphql(UNREAD, token=bob.token))["unreadCounts"]
    assert [(r["roomName"], r["withUser"], r["unread"], r["mentions"]) for r in rows] == [
        ("general", None, 3, 2),
        ("quiet", None, 0, 0),
        (None, str(alice.id), 2, 2),
    ]
    # Alice wrote most of it: only bob's message is unread for her, none in the DM she sent.
    counts = await unread_rest(http, alice)
    assert [r["unread"] for r in counts["rooms"]] == [1, 0]
    assert counts["dms"] == [{"with": bob.id, "last_read_id": 0, "unread": 1, "mentions": 1}]
    assert error_codes(await graphql(UNREAD)) == ["UNAUTHENTICATED"]


@pytest.fixture
def roomy(override_settings: OverrideSettings) -> None:
    """Budget for 30 rooms and 60 messages from one account."""
    override_settings(rooms_per_window=1000, messages_per_window=10_000)


@pytest.mark.usefixtures("roomy")
@pytest.mark.parametrize("door", ["rest", "graphql", "ws"])
async def test_unread_counts_cost_the_same_queries_for_3_rooms_as_for_30(
    service: Service,
    http: httpx.AsyncClient,
    make_account: MakeAccount,
    graphql: GraphQL,
    monkeypatch: pytest.MonkeyPatch,
    door: str,
) -> None:
    owner = await make_account(display_name="owner")
    few = await make_account(display_name="few")
    many = await make_account(display_name="many")
    for i in range(30):
        name = f"room{i}"
        await make_room(http, owner, name)
        for who in (few, many) if i < 3 else (many,):
            await join(http, who, name)
        await post(http, owner, name, f"hello @few @many {i}")
        await post(http, owner, name, "second")
    await dm(http, owner, many.id, "and a DM")

    async def ask(who: Account) -> tuple[int, int]:
        if door == "ws":
            async with chat_client(service.ws_url, who.token) as ws:
                counter.count = 0
                reply = await request(ws, {"type": "unread"})
                return counter.count, len(reply["rooms"])
        counter.count = 0
        if door == "rest":
            rooms = (await unread_rest(http, who))["rooms"]
        else:
            rows = data_of(await graphql(UNREAD, token=who.token))["unreadCounts"]
            rooms = [r for r in rows if r["roomId"]]
        queries = counter.count
        assert all(r["unread"] == 2 and r["mentions"] == 1 for r in rooms)
        return queries, len(rooms)

    counter = QueryCounter(monkeypatch)
    few_queries, few_rooms = await ask(few)
    many_queries, many_rooms = await ask(many)
    assert (few_rooms, many_rooms) == (3, 30)
    assert few_queries == many_queries
    assert 2 <= many_queries <= 6  # the two grouped queries, and the caller's session
