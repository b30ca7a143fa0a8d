"""Mentions: parsed on send and edit, delivered on the mentioned user's
own channel on every real-time door, never to someone who cannot see the
room (issue 14)."""

from __future__ import annotations

import httpx

from tests.conftest import GraphQL, MakeAccount, data_of
from tests.harness import Service
from tests.helpers import make_room, ws_client
from tests.ws_helpers import chat_client, recv, silence

MENTIONS = """
subscription ($after: ID) {
  mentions(after: $after) { eventId messageId content author { id } room { name } }
}
"""
HISTORY = """
query ($room: String!) { roomMessages(room: $room) { edges { node { id mentions { id } } } } }
"""


async def post(http: httpx.AsyncClient, who: object, room: str, content: str) -> dict[str, object]:
    response = await http.post(
        f"/chat/rooms/{room}/messages",
        json={"content": content},
        headers=who.headers,  # type: ignore[attr-defined]
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_a_mention_reaches_the_mentioned_on_every_door(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice = await make_account(display_name="alice")
    bob = await make_account(display_name="bob.b")
    carol = await make_account(display_name="Carol Smith")
    dan = await make_account(display_name="dan")
    await make_room(http, alice, "general")
    async with (
        chat_client(service.ws_url, bob.token) as ws_bob,  # never joins the room
        chat_client(service.ws_url, dan.token) as ws_dan,
        ws_client(service, carol.token) as gql,
    ):
        await gql.subscribe("m", MENTIONS, {"after": "0"})
        body = await post(
            http, alice, "general", f"hi @bob.b, and <@{carol.id}>; @alice is me, @nobody"
        )
        assert body["mentions"] == [bob.id, carol.id]
        frame = await recv(ws_bob)
        assert frame == {
            "type": "mention",
            "event_id": frame["event_id"],
            "id": body["id"],
            "room": "general",
            "room_id": body["room_id"],
            "from_user": alice.id,
            "content": body["content"],
        }
        mention = (await gql.next_data("m"))["mentions"]
        assert (mention["messageId"], mention["author"], mention["room"]) == (
            str(body["id"]),
            {"id": str(alice.id)},
            {"name": "general"},
        )
        await silence(ws_dan)

        # An edit tells only those it newly mentions.
        response = await http.patch(
            f"/chat/rooms/general/messages/{body['id']}",
            json={"content": "hi @bob.b and @dan"},
            headers=alice.headers,
        )
        assert response.status_code == 200
        assert response.json()["mentions"] == [bob.id, dan.id]
        frame = await recv(ws_dan)
        assert (frame["type"], frame["id"]) == ("mention", body["id"])
        await silence(ws_bob)

    rows = (await http.get("/chat/rooms/general/messages", headers=dan.headers)).json()
    assert rows[0]["mentions"] == [bob.id, dan.id]
    nodes = data_of(await graphql(HISTORY, {"room": "general"}, token=dan.token))
    assert nodes["roomMessages"]["edges"][0]["node"]["mentions"] == [
        {"id": str(bob.id)},
        {"id": str(dan.id)},
    ]
    # Resuming: the stored mention replays (content as it is now).
    async with ws_client(service, dan.token) as gql:
        await gql.subscribe("m", MENTIONS, {"after": "0"})
        replayed = (await gql.next_data("m"))["mentions"]
    assert (replayed["messageId"], replayed["content"]) == (str(body["id"]), "hi @bob.b and @dan")


async def test_who_cannot_see_the_room_is_not_mentioned(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice = await make_account(display_name="alice")
    eve = await make_account(display_name="eve")
    member = await make_account(display_name="member")
    await make_room(http, alice, "secret", private=True)
    add = 'mutation ($u: ID!) { addRoomMember(room: "secret", userId: $u) { id } }'
    data_of(await graphql(add, {"u": str(member.id)}, token=alice.token))
    async with (
        chat_client(service.ws_url, eve.token) as ws_eve,
        chat_client(service.ws_url, member.token) as ws_member,
    ):
        body = await post(http, alice, "secret", f"@eve <@{eve.id}> @member")
        assert body["mentions"] == [member.id]
        frame = await recv(ws_member)
        assert frame["type"] == "mention"
        await silence(ws_eve)
    async with ws_client(service, eve.token) as gql:
        await gql.subscribe("m", MENTIONS, {"after": "0"})
        assert await gql.nothing_within(0.5)
