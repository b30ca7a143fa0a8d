"""Leaving a room (issue 15), through every door.

``leaveRoom`` (GraphQL), ``DELETE /chat/rooms/{room}/members/me`` (REST) and
the ``leave`` frame (WS, answered ``left``): idempotent like joining; the
creator may leave; the last member of a private room may not (CONFLICT);
once out of a private room it is NOT_FOUND to the leaver. Sync then lists
the room in ``left`` and stops returning its messages (a rejoin makes it
``joined`` again), unread counts stop listing it, presence stops going
there, and the leaving WS connection stops getting its live messages. The
leaver's live feeds of the room opened before the leave end too: their
GraphQL subscriptions with NOT_FOUND, their other chat connections with a
``left`` frame without ``ref``; nothing posted after the leave reaches them.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.account_helpers import new_account
from tests.conftest import Account, GraphQL, MakeAccount, data_of, error_codes
from tests.harness import Service
from tests.helpers import (
    PROTOCOL,
    Client,
    gql_join,
    rest_post,
    rest_sync,
    subscribe_live,
    ws_client,
)
from tests.presence_helpers import room_with
from tests.process_helpers import two_processes
from tests.ws_helpers import chat_client, join, open_ws, recv, request, silence

LEAVE = "mutation ($room: String!) { leaveRoom(room: $room) { id name isPrivate } }"
ROOM = "query ($room: String!) { room(room: $room) { id } }"
ROOM_MESSAGES = """
subscription ($room: String!) { roomMessages(room: $room) { id content } }
"""


async def leave_rest(http: httpx.AsyncClient, who: Account, room: object) -> httpx.Response:
    return await http.delete(f"/chat/rooms/{room}/members/me", headers=who.headers)


async def unread_room_ids(http: httpx.AsyncClient, who: Account) -> set[int]:
    response = await http.get("/chat/unread", headers=who.headers)
    assert response.status_code == 200, response.text
    return {int(r["room_id"]) for r in response.json()["rooms"]}


async def test_graphql_leave_rules(
    http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    secret = await room_with(http, alice, "secret", bob, private=True)
    await rest_post(http, alice, secret, "before bob left")

    left = data_of(await graphql(LEAVE, {"room": "secret"}, token=bob.token))["leaveRoom"]
    assert left == {"id": str(secret), "name": "secret", "isPrivate": True}
    # Out of a private room: it is gone for bob, like for any non-member.
    assert data_of(await graphql(ROOM, {"room": "secret"}, token=bob.token))["room"] is None
    history = await http.get(f"/chat/rooms/{secret}/messages", headers=bob.headers)
    assert history.status_code == 404
    assert error_codes(await graphql(LEAVE, {"room": "secret"}, token=bob.token)) == ["NOT_FOUND"]
    # The last member of a private room stays (nobody could reach it again).
    assert error_codes(await graphql(LEAVE, {"room": "secret"}, token=alice.token)) == ["CONFLICT"]
    assert data_of(await graphql(ROOM, {"room": "secret"}, token=alice.token))["room"]

    # A public room: its creator may leave it, twice; a non-member's leave is a no-op.
    plaza = await room_with(http, alice, "plaza", bob)
    for who in (alice, alice, carol):
        got = data_of(await graphql(LEAVE, {"room": str(plaza)}, token=who.token))
        assert got["leaveRoom"]["id"] == str(plaza)
    members = data_of(
        await graphql(
            "query ($r: String!) { room(room: $r) { members { id } } }",
            {"r": "plaza"},
            token=bob.token,
        )
    )["room"]["members"]
    assert members == [{"id": str(bob.id)}]
    # The last member of a public room may leave: anyone can join it again.
    data_of(await graphql(LEAVE, {"room": "plaza"}, token=bob.token))
    await gql_join(http, carol, "plaza")

    assert error_codes(await graphql(LEAVE, {"room": "nowhere"}, token=bob.token)) == ["NOT_FOUND"]
    assert error_codes(await graphql(LEAVE, {"room": "plaza"})) == ["UNAUTHENTICATED"]


async def test_rest_leave_and_sync_unread_follow_membership(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    secret = await room_with(http, alice, "secret", bob, private=True)
    plaza = await room_with(http, alice, "plaza", bob)
    await rest_post(http, alice, secret, "one")
    await rest_post(http, alice, plaza, "two")
    first = await rest_sync(http, bob, None)
    assert {r["room_id"] for r in first["rooms"]} == {secret, plaza}
    assert await unread_room_ids(http, bob) == {secret, plaza}

    response = await leave_rest(http, bob, "secret")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == secret
    assert (await leave_rest(http, bob, secret)).status_code == 404  # no longer visible
    conflict = await leave_rest(http, alice, secret)
    assert (conflict.status_code, conflict.json()["error"]["code"]) == (409, "CONFLICT")
    assert (await http.delete(f"/chat/rooms/{plaza}/members/me")).status_code == 401
    assert (await leave_rest(http, bob, "nowhere")).status_code == 404

    await rest_post(http, alice, secret, "after bob left")
    await rest_post(http, alice, plaza, "three")
    second = await rest_sync(http, bob, first["next"])
    assert second["left"] == [secret]
    assert [(r["room_id"], [m["content"] for m in r["messages"]]) for r in second["rooms"]] == [
        (plaza, ["three"])
    ]
    assert await unread_room_ids(http, bob) == {plaza}
    third = await rest_sync(http, bob, second["next"])
    assert (third["left"], third["rooms"]) == ([], [])

    # Leaving a public room twice is a no-op, and a rejoin makes it "joined".
    for _ in range(2):
        assert (await leave_rest(http, bob, "plaza")).status_code == 200
    fourth = await rest_sync(http, bob, third["next"])
    assert fourth["left"] == [plaza]
    await rest_post(http, alice, plaza, "while away")
    await gql_join(http, bob, "plaza")
    fifth = await rest_sync(http, bob, fourth["next"])
    assert [(r["room_id"], r["joined"]) for r in fifth["rooms"]] == [(plaza, True)]
    assert fifth["left"] == []
    assert await unread_room_ids(http, bob) == {plaza}


async def test_ws_leave_stops_the_rooms_live_messages(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    plaza = await room_with(http, alice, "plaza")
    secret = await room_with(http, alice, "secret", private=True)
    async with chat_client(service.ws_url, bob.token) as b:
        await join(b, "plaza")
        await rest_post(http, alice, "plaza", "heard")
        got = await recv(b)
        assert (got["type"], got["content"]) == ("message", "heard")

        left = await request(b, {"type": "leave", "room": "plaza", "ref": "bye"})
        assert left == {"type": "left", "room": "plaza", "room_id": plaza, "ref": "bye"}
        await rest_post(http, alice, "plaza", "not heard")
        await silence(b, 0.5)
        again = await request(b, {"type": "leave", "room": "plaza"})
        assert again["type"] == "left"

        refused = await request(b, {"type": "leave", "room": secret})
        assert (refused["type"], refused["code"]) == ("error", "NOT_FOUND")
        malformed = await request(b, {"type": "leave"})
        assert (malformed["type"], malformed["code"], malformed["field"]) == (
            "error",
            "BAD_USER_INPUT",
            "room",
        )
        # Joining again brings the live messages back.
        await join(b, "plaza")
        await rest_post(http, alice, "plaza", "back")
        assert (await recv(b))["content"] == "back"


async def test_after_leaving_presence_and_subscriptions_stop(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    secret = await room_with(http, alice, "secret", bob, private=True)
    async with chat_client(service.ws_url, alice.token) as a:
        await join(a, secret)
        listed = await request(a, {"type": "presence", "room": secret})
        assert {u["id"] for u in listed["users"]} == {alice.id, bob.id}
        # While a member, bob's coming and going reach alice through the room.
        b = await open_ws(service.ws_url, bob.token)
        came = await recv(a)
        assert (came["type"], came["user_id"], came["online"]) == ("presence_changed", bob.id, True)
        await b.close()
        went = await recv(a)
        assert (went["user_id"], went["online"]) == (bob.id, False)

        assert (await leave_rest(http, bob, secret)).status_code == 200
        listed = await request(a, {"type": "presence", "room": secret})
        assert {u["id"] for u in listed["users"]} == {alice.id}
        # Bob comes online: alice shares no room (nor DM) with him any more.
        b = await open_ws(service.ws_url, bob.token)
        await silence(a, 1.0)
        await b.close()
        await silence(a, 2.0)  # nor his going (past the grace)

    # A new live subscription to the room is refused to bob, as to any non-member.
    async with ws_client(service, bob.token) as g:
        await g.subscribe("s", ROOM_MESSAGES, {"room": str(secret)})
        message = await g.receive()
        assert message["type"] in {"error", "next"}, message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"]
    # Alice, still a member, keeps hers.
    async with ws_client(service, alice.token) as g:
        await subscribe_live(http, g, "s", alice, secret)


# --- live feeds opened before the leave end (resolvers.membership_events) -------------

ROOM_CHANGES = """
subscription ($room: String!) { roomMessageChanges(room: $room) { eventId } }
"""


async def edit(http: httpx.AsyncClient, who: Account, room: int, message: int, text: str) -> None:
    edited = await http.patch(
        f"/chat/rooms/{room}/messages/{message}", json={"content": text}, headers=who.headers
    )
    assert edited.status_code == 200, edited.text


async def ended_with(g: Client, *op_ids: str) -> dict[str, list[str]]:
    """The error codes each subscription ended with (each then ``complete``),
    in whatever order they end."""
    codes: dict[str, list[str]] = {}
    completed: set[str] = set()
    while len(completed) < len(op_ids):
        message = await g.receive()
        op = message["id"]
        assert op in op_ids, message
        if message["type"] == "complete":
            assert op in codes, message
            completed.add(op)
            continue
        assert message["type"] == "next", message
        assert op not in codes, message
        assert message["payload"]["data"] is None, message
        codes[op] = [e["extensions"]["code"] for e in message["payload"]["errors"]]
    return codes


async def test_leaving_ends_the_leavers_live_feeds_of_the_room(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    secret = await room_with(http, alice, "secret", bob, private=True)
    async with (
        ws_client(service, bob.token) as g,
        ws_client(service, alice.token) as ga,
        chat_client(service.ws_url, bob.token) as b1,
        chat_client(service.ws_url, bob.token) as b2,
        chat_client(service.ws_url, alice.token) as a,
    ):
        await subscribe_live(http, ga, "msgs", alice, secret)
        await g.subscribe("changes", ROOM_CHANGES, {"room": str(secret)})
        await subscribe_live(http, g, "msgs", bob, secret)
        assert (await ga.next_data("msgs"))["roomMessages"]["content"] == "marker"
        for ws in (b1, b2, a):
            await join(ws, secret)
        heard = await rest_post(http, alice, secret, "both hear this")
        for ws in (b1, b2, a):
            assert (await recv(ws))["content"] == "both hear this"
        for client in (g, ga):
            assert (await client.next_data("msgs"))["roomMessages"]["content"] == "both hear this"
        await edit(http, alice, secret, heard, "both see this edit")
        for ws in (b1, b2, a):
            assert (await recv(ws))["type"] == "message_edited"
        assert (await g.next_data("changes"))["roomMessageChanges"]["eventId"]

        # Bob leaves on b1: it is answered with its ref, and told nothing else.
        left = await request(b1, {"type": "leave", "room": "secret", "ref": "bye"})
        assert left == {"type": "left", "room": "secret", "room_id": secret, "ref": "bye"}
        # His other connection is told, without a ref, and detaches the room.
        assert await recv(b2) == {"type": "left", "room": "secret", "room_id": secret}
        # His GraphQL subscriptions of the room end, as a new one would be refused.
        ended = await ended_with(g, "msgs", "changes")
        assert ended == {"msgs": ["NOT_FOUND"], "changes": ["NOT_FOUND"]}

        posted = await rest_post(http, alice, secret, "after bob left")
        await edit(http, alice, secret, posted, "edited after")
        # Alice, still a member, hears it all on every door...
        assert (await recv(a))["content"] == "after bob left"
        assert (await recv(a))["type"] == "message_edited"
        assert (await ga.next_data("msgs"))["roomMessages"]["content"] == "after bob left"
        # ... and bob on none.
        for ws in (b1, b2):
            await silence(ws, 0.5)
        assert await g.nothing_within(0.3)
        # A DM still reaches bob's connections: only the room was detached.
        dm = await http.post(f"/chat/dm/{bob.id}", json={"content": "psst"}, headers=alice.headers)
        assert dm.status_code in (200, 201), dm.text
        for ws in (b1, b2):
            assert (await recv(ws))["content"] == "psst"


async def test_leaving_a_public_room_ends_its_feeds_too(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    plaza = await room_with(http, alice, "plaza", bob, carol)
    async with (
        ws_client(service, bob.token) as g,
        ws_client(service, carol.token) as gc,
        chat_client(service.ws_url, bob.token) as b,
        chat_client(service.ws_url, carol.token) as c,
    ):
        await subscribe_live(http, gc, "msgs", carol, plaza)
        await subscribe_live(http, g, "msgs", bob, plaza)
        assert (await gc.next_data("msgs"))["roomMessages"]["content"] == "marker"
        for ws in (b, c):
            await join(ws, "plaza")
        data_of(await graphql(LEAVE, {"room": "plaza"}, token=bob.token))
        assert await ended_with(g, "msgs") == {"msgs": ["NOT_FOUND"]}
        assert await recv(b) == {"type": "left", "room": "plaza", "room_id": plaza}

        await rest_post(http, alice, "plaza", "bob is gone")
        assert (await recv(c))["content"] == "bob is gone"
        assert (await gc.next_data("msgs"))["roomMessages"]["content"] == "bob is gone"
        await silence(b, 0.5)
        assert await g.nothing_within(0.3)
        # Carol leaving does not touch alice's... nor bob's rejoined feed.
        await join(b, "plaza")
        assert (await leave_rest(http, carol, "plaza")).status_code == 200
        assert await recv(c) == {"type": "left", "room": "plaza", "room_id": plaza}
        await rest_post(http, alice, "plaza", "bob is back")
        assert (await recv(b))["content"] == "bob is back"


@pytest.mark.slow
async def test_a_leave_on_one_process_ends_the_feeds_on_another(tmp_path: Path) -> None:
    """On PostgreSQL + Redis whatever the suite runs on (like test_scale_out)."""
    async with two_processes(tmp_path, "leave") as pair:
        one, http1, http2 = pair.one, pair.http1, pair.http2
        alice = await new_account(http1, "alice@example.com")
        bob = await new_account(http1, "bob@example.com")
        secret = await room_with(http1, alice, "secret", bob, private=True)
        graphql_url = one.http_url.replace("http://", "ws://", 1) + "/graphql"
        async with (
            connect(graphql_url, subprotocols=[PROTOCOL]) as conn,  # type: ignore[list-item]
            chat_client(one.ws_url, bob.token) as b,
            chat_client(one.ws_url, alice.token) as a,
        ):
            g = Client(conn)
            await g.send({"type": "connection_init", "payload": bob.headers})
            assert (await g.receive())["type"] == "connection_ack"
            await subscribe_live(http2, g, "msgs", bob, secret)
            for ws in (a, b):
                await join(ws, secret)

            # Bob leaves through process two...
            assert (await leave_rest(http2, bob, secret)).status_code == 200
            # ... and his feeds on process one end.
            assert await recv(b) == {"type": "left", "room": "secret", "room_id": secret}
            assert await ended_with(g, "msgs") == {"msgs": ["NOT_FOUND"]}
            await rest_post(http2, alice, secret, "after bob left")
            assert (await recv(a))["content"] == "after bob left"
            await silence(b, 0.5)
            assert await g.nothing_within(0.3)
