"""Replies on every door, live and in history; the preview follows the
original (edited, deleted) (issue 14)."""

from __future__ import annotations

import httpx

from resolvers.limits import REPLY_PREVIEW_CHARS
from tests.conftest import GraphQL, MakeAccount, data_of, error_codes
from tests.harness import Service
from tests.helpers import make_room, rest_post, ws_client
from tests.ws_helpers import chat_client, join, recv, recv_until, request, send

SUBSCRIPTION = """
subscription ($room: String!, $after: ID) {
  roomMessages(room: $room, after: $after) {
    id content replyTo { id preview deleted author { id } }
  }
}
"""
HISTORY = """
query ($room: String!) {
  roomMessages(room: $room) { edges { node { id replyTo { id preview deleted } } } }
}
"""
SEND = """
mutation ($room: String!, $to: ID) {
  sendMessage(room: $room, content: "re", replyTo: $to) { id replyTo { id preview } }
}
"""


async def test_a_reply_carries_its_original_on_every_door(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    long_text = "x" * (REPLY_PREVIEW_CHARS + 50)
    original = await rest_post(http, alice, "general", long_text)
    expected = {
        "id": original,
        "from_user": alice.id,
        "preview": "x" * REPLY_PREVIEW_CHARS,
        "deleted": False,
    }
    async with (
        chat_client(service.ws_url, bob.token) as ws,
        ws_client(service, bob.token) as gql,
    ):
        await join(ws, "general")
        await gql.subscribe("s", SUBSCRIPTION, {"room": "general", "after": str(original)})
        response = await http.post(
            "/chat/rooms/general/messages",
            json={"content": "agreed", "reply_to": original},
            headers=bob.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["reply_to"] == expected
        reply_id = response.json()["id"]
        frame = await recv(ws)
        assert (frame["id"], frame["reply_to"]) == (reply_id, expected)
        ack = await request(
            ws, {"type": "message", "room": "general", "content": "+1", "reply_to": reply_id}
        )
        assert ack["type"] == "ack"
        live = (await gql.next_data("s"))["roomMessages"]
        assert live["id"] == str(reply_id)
        assert live["replyTo"] == {
            "id": str(original),
            "preview": "x" * REPLY_PREVIEW_CHARS,
            "deleted": False,
            "author": {"id": str(alice.id)},
        }
    body = data_of(await graphql(SEND, {"room": "general", "to": str(original)}, token=bob.token))
    assert body["sendMessage"]["replyTo"]["id"] == str(original)

    # The original is deleted: every reply's preview becomes a tombstone.
    deleted = await http.delete(f"/chat/rooms/general/messages/{original}", headers=alice.headers)
    assert deleted.status_code == 204
    rows = (await http.get("/chat/rooms/general/messages", headers=bob.headers)).json()
    tombstone = {"id": original, "from_user": alice.id, "preview": "", "deleted": True}
    assert rows[1]["reply_to"] == tombstone
    assert rows[2]["reply_to"]["id"] == reply_id
    nodes = data_of(await graphql(HISTORY, {"room": "general"}, token=bob.token))
    assert nodes["roomMessages"]["edges"][1]["node"]["replyTo"] == {
        "id": str(original),
        "preview": "",
        "deleted": True,
    }
    async with chat_client(service.ws_url, bob.token) as ws:
        await send(ws, {"type": "join", "room": "general", "after": 0, "ref": "j"})
        _joined, replayed = await recv_until(ws, "joined")
        history = await request(ws, {"type": "room_history", "room": "general"})
    posts = [f for f in replayed if f["type"] == "message"]
    assert posts[1]["reply_to"] == tombstone
    assert history["messages"][1]["reply_to"] == tombstone
    assert long_text not in str(replayed)


async def test_a_reply_names_a_message_of_the_same_conversation(
    http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice, bob, eve = await make_account(), await make_account(), await make_account()
    await make_room(http, alice, "general")
    await make_room(http, alice, "other")
    await make_room(http, alice, "secret", private=True)
    elsewhere = await rest_post(http, alice, "other", "elsewhere")
    hidden = await rest_post(http, alice, "secret", "hidden")
    for target in (elsewhere, hidden, 999_999):
        response = await http.post(
            "/chat/rooms/general/messages",
            json={"content": "re", "reply_to": target},
            headers=bob.headers,
        )
        assert response.status_code == 404, response.text
    bad = await http.post(
        "/chat/rooms/general/messages",
        json={"content": "re", "reply_to": "first"},
        headers=bob.headers,
    )
    assert bad.status_code == 422
    body = await graphql(SEND, {"room": "general", "to": str(hidden)}, token=bob.token)
    assert error_codes(body) == ["NOT_FOUND"]

    # DMs: a message of the same two users' conversation only.
    response = await http.post(f"/chat/dm/{bob.id}", json={"content": "hi"}, headers=alice.headers)
    dm_id = response.json()["id"]
    other = await http.post(
        f"/chat/dm/{eve.id}", json={"content": "re", "reply_to": dm_id}, headers=alice.headers
    )
    assert other.status_code == 404
    reply = await http.post(
        f"/chat/dm/{alice.id}", json={"content": "re", "reply_to": dm_id}, headers=bob.headers
    )
    assert reply.status_code == 201
    assert reply.json()["reply_to"] == {
        "id": dm_id,
        "from_user": alice.id,
        "preview": "hi",
        "deleted": False,
    }
    rows = (await http.get(f"/chat/dm/{bob.id}", headers=alice.headers)).json()
    assert rows[1]["reply_to"]["id"] == dm_id
