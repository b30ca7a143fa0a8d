"""Joining a room over REST: ``PUT /chat/rooms/{room}/members/me``
(tests/contract/joining_rooms.md).

The REST twin of ``joinRoom`` (GraphQL) and of the ``join`` frame (WS),
through the same resolver: idempotent; a private room is NOT_FOUND unless
the caller is already a member (then a no-op); the room then follows the
caller in members, sync and unread counts.
"""

from __future__ import annotations

import httpx

from tests.conftest import Account, GraphQL, MakeAccount, data_of, error_codes
from tests.harness import Service
from tests.helpers import rest_post, rest_sync
from tests.presence_helpers import room_with
from tests.ws_helpers import chat_client, join, recv, silence

JOIN = "mutation ($room: String!) { joinRoom(room: $room) { id name isPrivate } }"
MEMBERS = "query ($room: String!) { room(room: $room) { members { id } } }"


async def join_rest(http: httpx.AsyncClient, who: Account, room: object) -> httpx.Response:
    return await http.put(f"/chat/rooms/{room}/members/me", headers=who.headers)


async def member_ids(graphql: GraphQL, who: Account, room: str) -> list[int]:
    found = data_of(await graphql(MEMBERS, {"room": room}, token=who.token))["room"]
    return [int(m["id"]) for m in found["members"]]


async def test_rest_join_is_idempotent_and_answers_as_join_room(
    http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice, bob = await make_account(), await make_account()
    plaza = await room_with(http, alice, "plaza")

    first = await join_rest(http, bob, "plaza")
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["id"], body["name"], body["is_private"]) == (plaza, "plaza", False)
    assert set(body) == {"id", "name", "is_private", "created_at"}
    # Again, and by id: the same answer, one membership.
    again = await join_rest(http, bob, plaza)
    assert (again.status_code, again.json()) == (200, body)
    assert sorted(await member_ids(graphql, alice, "plaza")) == sorted([alice.id, bob.id])
    # The GraphQL door's joinRoom agrees (the same resolver), and changes nothing more.
    same = data_of(await graphql(JOIN, {"room": "plaza"}, token=bob.token))["joinRoom"]
    assert same == {"id": str(plaza), "name": "plaza", "isPrivate": False}
    assert sorted(await member_ids(graphql, alice, "plaza")) == sorted([alice.id, bob.id])


async def test_rest_join_refusals(
    http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    secret = await room_with(http, alice, "secret", bob, private=True)
    await room_with(http, alice, "plaza")

    assert (await http.put("/chat/rooms/plaza/members/me")).status_code == 401
    for room in ("secret", secret, "nowhere", 999_999):
        refused = await join_rest(http, carol, room)
        assert (refused.status_code, refused.json()["error"]["code"]) == (404, "NOT_FOUND"), room
    # As joinRoom answers it: a private room does not exist for a non-member.
    assert error_codes(await graphql(JOIN, {"room": "secret"}, token=carol.token)) == ["NOT_FOUND"]
    assert sorted(await member_ids(graphql, alice, "secret")) == sorted([alice.id, bob.id])
    # A member's join of their private room is a no-op that answers the room.
    member = await join_rest(http, bob, "secret")
    assert (member.status_code, member.json()["id"]) == (200, secret)
    assert sorted(await member_ids(graphql, alice, "secret")) == sorted([alice.id, bob.id])


async def test_a_rest_join_shows_in_sync_and_unread_and_a_leave_undoes_it(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    plaza = await room_with(http, alice, "plaza")
    await rest_post(http, alice, plaza, "before bob came")
    start = await rest_sync(http, bob, None)
    assert start["rooms"] == []

    assert (await join_rest(http, bob, "plaza")).status_code == 200
    joined = await rest_sync(http, bob, start["next"])
    assert [(r["room_id"], r["joined"]) for r in joined["rooms"]] == [(plaza, True)]
    unread = await http.get("/chat/unread", headers=bob.headers)
    assert [r["room_id"] for r in unread.json()["rooms"]] == [plaza]

    left = await http.delete("/chat/rooms/plaza/members/me", headers=bob.headers)
    assert left.status_code == 200
    after = await rest_sync(http, bob, joined["next"])
    assert after["left"] == [plaza]


async def test_a_rest_join_attaches_no_live_feed(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """A membership is not a subscription: the WS connection still sends ``join``."""
    alice, bob = await make_account(), await make_account()
    await room_with(http, alice, "plaza")
    async with chat_client(service.ws_url, bob.token) as ws:
        assert (await join_rest(http, bob, "plaza")).status_code == 200
        await rest_post(http, alice, "plaza", "not yet heard")
        await silence(ws, 0.5)
        await join(ws, "plaza")
        await rest_post(http, alice, "plaza", "heard")
        assert (await recv(ws))["content"] == "heard"
