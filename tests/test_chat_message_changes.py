"""Edit and delete, on every door, live and on replay (issue 14).

Each change made through one door is seen by the others: live by a chat
WebSocket client and a GraphQL subscriber, and in REST/GraphQL/WS history.
A client resuming ``after`` a cursor learns of changes to messages older
than the cursor: changes share the id space of the conversation's messages
(README, Chat).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from core import runtime
from models import DirectMessage, Message
from resolvers import limits
from tests.conftest import Account, GraphQL, MakeAccount, OverrideSettings, data_of, error_codes
from tests.harness import Service
from tests.helpers import make_room, rest_post, ws_client
from tests.ws_helpers import chat_client, join, recv, recv_until, request, say, silence

CHANGES = """
subscription ($room: String!, $after: ID) {
  roomMessageChanges(room: $room, after: $after) {
    eventId kind messageId content editedAt room { id } user { id }
  }
}
"""
DM_CHANGES = """
subscription ($after: ID) {
  directMessageChanges(after: $after) { eventId kind messageId content room { id } }
}
"""
ROOM_MESSAGES = """
subscription ($room: String!, $after: ID) {
  roomMessages(room: $room, after: $after) { id content editedAt deleted }
}
"""
HISTORY = """
query ($room: String!) {
  roomMessages(room: $room) { edges { node { id content editedAt deleted } } }
}
"""
EDIT = (
    "mutation ($id: ID!, $c: String!) { editMessage(id: $id, content: $c) { id content editedAt } }"
)
DELETE = "mutation ($id: ID!) { deleteMessage(id: $id) { id content deleted } }"


async def patch(
    http: httpx.AsyncClient, who: Account, room: object, message_id: int, content: str
) -> httpx.Response:
    return await http.patch(
        f"/chat/rooms/{room}/messages/{message_id}",
        json={"content": content},
        headers=who.headers,
    )


async def delete(
    http: httpx.AsyncClient, who: Account, room: object, message_id: int
) -> httpx.Response:
    return await http.delete(f"/chat/rooms/{room}/messages/{message_id}", headers=who.headers)


async def history(http: httpx.AsyncClient, who: Account, room: object) -> dict[int, Any]:
    response = await http.get(f"/chat/rooms/{room}/messages", headers=who.headers)
    assert response.status_code == 200, response.text
    return {m["id"]: m for m in response.json()}


# --- cross-door, live --------------------------------------------------------------------


async def test_a_rest_edit_is_seen_live_by_a_ws_client_and_a_graphql_subscriber(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    room_id = await make_room(http, alice, "general")
    message_id = await rest_post(http, alice, "general", "first draft")
    async with (
        chat_client(service.ws_url, bob.token) as ws,
        ws_client(service, carol.token) as gql,
    ):
        await join(ws, "general")
        await gql.subscribe("c", CHANGES, {"room": "general", "after": str(message_id)})
        response = await patch(http, alice, "general", message_id, "final text")
        assert response.status_code == 200, response.text
        edited = response.json()
        assert edited["content"] == "final text"
        assert edited["edited_at"] >= edited["timestamp"]

        frame = await recv(ws)
        assert frame == {
            "type": "message_edited",
            "event_id": frame["event_id"],
            "id": message_id,
            "room": "general",
            "room_id": room_id,
            "from_user": alice.id,
            "content": "final text",
            "edited_at": frame["edited_at"],
        }
        assert frame["event_id"] > message_id
        change = (await gql.next_data("c"))["roomMessageChanges"]
        assert change["kind"] == "EDITED"
        assert change["eventId"] == str(frame["event_id"])
        assert (change["messageId"], change["content"]) == (str(message_id), "final text")
        assert change["room"] == {"id": str(room_id)}

    stored = (await history(http, bob, "general"))[message_id]
    assert (stored["content"], stored["edited_at"]) == ("final text", edited["edited_at"])
    nodes = data_of(await graphql(HISTORY, {"room": "general"}, token=carol.token))
    node = nodes["roomMessages"]["edges"][-1]["node"]
    assert (node["content"], node["deleted"]) == ("final text", False)
    assert node["editedAt"] is not None


async def test_a_ws_delete_disappears_from_rest_history_and_reaches_every_door(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    async with (
        chat_client(service.ws_url, alice.token) as ws_alice,
        chat_client(service.ws_url, bob.token) as ws_bob,
        ws_client(service, bob.token) as gql,
    ):
        await join(ws_bob, "general")
        keep = await say(ws_alice, "stays")
        gone = await say(ws_alice, "a secret said by mistake")
        await gql.subscribe("c", CHANGES, {"room": "general", "after": str(gone)})
        ack = await request(ws_alice, {"type": "delete", "id": gone})
        assert (ack["type"], ack["id"]) == ("ack", gone)

        _deleted, before = await recv_until(ws_bob, "message_deleted")
        assert [f["id"] for f in before] == [keep, gone]
        assert _deleted["id"] == gone
        assert "content" not in _deleted
        change = (await gql.next_data("c"))["roomMessageChanges"]
        assert (change["kind"], change["messageId"], change["content"]) == (
            "DELETED",
            str(gone),
            None,
        )
        # Deleting a tombstone again changes nothing and tells nobody.
        again = await request(ws_alice, {"type": "delete", "id": gone})
        assert again["type"] == "ack"
        await silence(ws_bob)

    rows = await history(http, bob, "general")
    assert list(rows) == [keep, gone]  # the tombstone keeps its place
    assert (rows[gone]["deleted"], rows[gone]["content"]) == (True, "")
    assert rows[gone]["timestamp"]
    assert "deleted" not in rows[keep]
    body = data_of(await graphql(HISTORY, {"room": "general"}, token=bob.token))
    nodes = [e["node"] for e in body["roomMessages"]["edges"]]
    assert [(n["content"], n["deleted"]) for n in nodes] == [("stays", False), ("", True)]
    async with chat_client(service.ws_url, bob.token) as ws:
        reply = await request(ws, {"type": "room_history", "room": "general"})
        assert [m.get("deleted", False) for m in reply["messages"]] == [False, True]
        assert "a secret" not in str(reply)


async def test_a_graphql_dm_edit_and_a_ws_dm_delete_reach_both_parties(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice, bob = await make_account(), await make_account()
    response = await http.post(
        f"/chat/dm/{bob.id}", json={"content": "hi bob"}, headers=alice.headers
    )
    dm_id = response.json()["id"]
    async with (
        chat_client(service.ws_url, bob.token) as ws_bob,
        chat_client(service.ws_url, alice.token) as ws_alice,
        ws_client(service, bob.token) as gql,
    ):
        await gql.subscribe("d", DM_CHANGES, {"after": str(dm_id)})
        body = await graphql(
            'mutation ($id: ID!) { editDirectMessage(id: $id, content: "hi Bob") '
            "{ content editedAt } }",
            {"id": str(dm_id)},
            token=alice.token,
        )
        assert data_of(body)["editDirectMessage"]["content"] == "hi Bob"
        for ws in (ws_bob, ws_alice):
            frame = await recv(ws)
            assert frame["type"] == "dm_edited", frame
            assert (frame["id"], frame["from_user"], frame["to_user"]) == (dm_id, alice.id, bob.id)
            assert frame["content"] == "hi Bob"
        change = (await gql.next_data("d"))["directMessageChanges"]
        assert (change["kind"], change["content"], change["room"]) == ("EDITED", "hi Bob", None)

        refused = await request(ws_bob, {"type": "dm_delete", "id": dm_id})
        assert refused["code"] == "FORBIDDEN"  # only the author deletes a DM
        ack = await request(ws_alice, {"type": "dm_delete", "id": dm_id})
        assert ack["type"] == "ack"
        deleted, _ = await recv_until(ws_bob, "dm_deleted")
        assert deleted["id"] == dm_id
        assert (await gql.next_data("d"))["directMessageChanges"]["kind"] == "DELETED"

    response = await http.get(f"/chat/dm/{alice.id}", headers=bob.headers)
    (row,) = response.json()
    assert (row["id"], row["content"], row["deleted"]) == (dm_id, "", True)


# --- replay --------------------------------------------------------------------------------


async def test_join_after_a_cursor_replays_changes_to_older_messages(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, roomy: None
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    m1 = await rest_post(http, alice, "general", "one")
    m2 = await rest_post(http, alice, "general", "two")
    cursor = await rest_post(http, alice, "general", "three")
    assert (await patch(http, alice, "general", m1, "one, edited")).status_code == 200
    assert (await delete(http, alice, "general", m2)).status_code == 204
    m4 = await rest_post(http, alice, "general", "four")

    async with chat_client(service.ws_url, bob.token) as ws:
        await send_join(ws, cursor)
        _joined, replayed = await recv_until(ws, "joined")
    kinds = [(f["type"], f["id"]) for f in replayed]
    assert kinds == [("message_edited", m1), ("message_deleted", m2), ("message", m4)]
    assert replayed[0]["content"] == "one, edited"
    ids = [f.get("event_id", f["id"]) for f in replayed]
    assert ids == sorted(ids)
    assert ids[0] > cursor

    # Resuming after the edit's event id: only what came after it.
    async with chat_client(service.ws_url, bob.token) as ws:
        await send_join(ws, replayed[0]["event_id"])
        _joined, rest = await recv_until(ws, "joined")
    assert [(f["type"], f["id"]) for f in rest] == kinds[1:]

    # From the start, the messages themselves show what they are now.
    async with chat_client(service.ws_url, bob.token) as ws:
        await send_join(ws, 0)
        _joined, everything = await recv_until(ws, "joined")
    posts = {f["id"]: f for f in everything if f["type"] == "message"}
    assert posts[m1]["content"] == "one, edited"
    assert "edited_at" in posts[m1]
    assert (posts[m2]["content"], posts[m2]["deleted"]) == ("", True)
    assert "two" not in str(everything)


async def send_join(ws: Any, after: int) -> None:
    from tests.ws_helpers import send

    await send(ws, {"type": "join", "room": "general", "after": after, "ref": "j"})


async def test_the_after_subscriptions_replay_changes(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, roomy: None
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    m1 = await rest_post(http, alice, "general", "one")
    m2 = await rest_post(http, alice, "general", "two")
    cursor = await rest_post(http, alice, "general", "three")
    assert (await patch(http, alice, "general", m1, "uno")).status_code == 200
    assert (await delete(http, alice, "general", m2)).status_code == 204
    # An edit then a deletion: the edit replays as a deletion, its text never again.
    assert (await patch(http, alice, "general", cursor, "oops")).status_code == 200
    assert (await delete(http, alice, "general", cursor)).status_code == 204

    async with ws_client(service, bob.token) as gql:
        await gql.subscribe("c", CHANGES, {"room": "general", "after": str(cursor)})
        got = [(await gql.next_data("c"))["roomMessageChanges"] for _ in range(4)]
        await gql.subscribe("m", ROOM_MESSAGES, {"room": "general", "after": str(m1 - 1)})
        messages = [(await gql.next_data("m"))["roomMessages"] for _ in range(3)]
    assert [(c["kind"], int(c["messageId"])) for c in got] == [
        ("EDITED", m1),
        ("DELETED", m2),
        ("DELETED", cursor),
        ("DELETED", cursor),
    ]
    assert got[0]["content"] == "uno"
    assert "oops" not in str(got)
    assert [(m["content"], m["deleted"]) for m in messages] == [
        ("uno", False),
        ("", True),
        ("", True),
    ]


# --- rules ----------------------------------------------------------------------------------


async def test_who_may_edit_and_delete(
    http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    author, member, outsider = await make_account(), await make_account(), await make_account()
    admin = await make_account(admin=True)
    await make_room(http, author, "open")
    await make_room(http, author, "closed", private=True)
    await http.post("/chat/rooms/closed/messages", json={"content": "x"}, headers=author.headers)
    add = 'mutation ($u: ID!) { addRoomMember(room: "closed", userId: $u) { id } }'
    data_of(await graphql(add, {"u": str(member.id)}, token=author.token))
    public = await rest_post(http, author, "open", "public words")
    private = await rest_post(http, author, "closed", "private words")

    assert (await patch(http, member, "open", public, "mine now")).status_code == 403
    assert (await patch(http, admin, "open", public, "admin's")).status_code == 403
    assert (await patch(http, outsider, "closed", private, "peek")).status_code == 404
    assert (await delete(http, outsider, "closed", private)).status_code == 404
    assert (await delete(http, member, "closed", private)).status_code == 403
    # The room in the path must be the message's room.
    assert (await patch(http, author, "open", private, "moved")).status_code == 404
    body = await graphql(EDIT, {"id": str(private), "c": "peek"}, token=outsider.token)
    assert error_codes(body) == ["NOT_FOUND"]
    body = await graphql(DELETE, {"id": str(public)}, token=member.token)
    assert error_codes(body) == ["FORBIDDEN"]
    assert error_codes(await graphql(DELETE, {"id": str(public)})) == ["UNAUTHENTICATED"]
    # Content rules are those of a send.
    assert (await patch(http, author, "open", public, "")).status_code == 422
    assert (
        await patch(http, author, "open", public, "x" * (limits.CONTENT_MAX + 1))
    ).status_code == 422

    deleted = data_of(await graphql(DELETE, {"id": str(public)}, token=admin.token))
    assert deleted["deleteMessage"] == {"id": str(public), "content": "", "deleted": True}
    response = await patch(http, author, "open", public, "back from the dead")
    assert response.status_code == 409
    assert (await delete(http, author, "open", public)).status_code == 204


async def test_the_edit_window(
    http: httpx.AsyncClient, make_account: MakeAccount, override_settings: OverrideSettings
) -> None:
    author = await make_account()
    await make_room(http, author, "general")
    old = await rest_post(http, author, "general", "yesterday's news")
    window = runtime.get().settings.message_edit_window_seconds
    assert window == 86400
    created = datetime.now(UTC) - timedelta(seconds=window + 60)
    await Message.filter(id=old).update(created_at=created)
    response = await patch(http, author, "general", old, "too late")
    assert response.status_code == 403
    assert str(window) in response.json()["error"]["message"]
    override_settings(message_edit_window_seconds=0)  # no limit
    assert (await patch(http, author, "general", old, "never too late")).status_code == 200


async def test_edits_count_against_the_message_rate_limit(
    http: httpx.AsyncClient, make_account: MakeAccount, override_settings: OverrideSettings
) -> None:
    author = await make_account()
    await make_room(http, author, "general")
    override_settings(messages_per_window=3, messages_window_seconds=60)
    message_id = await rest_post(http, author, "general", "1")
    assert (await patch(http, author, "general", message_id, "2")).status_code == 200
    assert (await patch(http, author, "general", message_id, "3")).status_code == 200
    response = await patch(http, author, "general", message_id, "4")
    assert response.status_code == 429
    assert response.headers["Retry-After"]


async def test_dm_rules(http: httpx.AsyncClient, make_account: MakeAccount) -> None:
    alice, bob, eve = await make_account(), await make_account(), await make_account()
    admin = await make_account(admin=True)
    response = await http.post(f"/chat/dm/{bob.id}", json={"content": "hi"}, headers=alice.headers)
    dm_id = response.json()["id"]
    path = f"/chat/dm/{bob.id}/messages/{dm_id}"
    for who, status in ((eve, 404), (admin, 404), (bob, 404)):
        # bob names the conversation by alice, not by himself: not found.
        assert (await http.delete(path, headers=who.headers)).status_code == status
    bob_path = f"/chat/dm/{alice.id}/messages/{dm_id}"
    assert (await http.delete(bob_path, headers=bob.headers)).status_code == 403
    assert (
        await http.patch(bob_path, json={"content": "x"}, headers=bob.headers)
    ).status_code == 403
    response = await http.patch(path, json={"content": "hello"}, headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["content"] == "hello"
    assert (await http.delete(path, headers=alice.headers)).status_code == 204
    row = await DirectMessage.get(id=dm_id)
    assert (row.content, row.deleted) == ("", True)
