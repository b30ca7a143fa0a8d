"""Reactions on every door, live and on replay; history pages stay at a
constant number of queries with reactions (issue 14)."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from core import runtime
from resolvers import limits
from tests.conftest import Account, GraphQL, MakeAccount, data_of, error_codes
from tests.harness import Service
from tests.helpers import QueryCounter, make_room, rest_post, ws_client
from tests.ws_helpers import chat_client, join, recv, recv_until, request, send, silence

CHANGES = """
subscription ($room: String!, $after: ID) {
  roomMessageChanges(room: $room, after: $after) { eventId kind messageId reaction user { id } }
}
"""
HISTORY = """
query ($room: String!) {
  roomMessages(room: $room) {
    edges {
      node {
        id author { id } reactions { reaction count viewerReacted }
        replyTo { id preview author { id } }
        attachments { id filename url }
      }
    }
  }
}
"""
ADD = "mutation ($id: ID!, $r: String!) { addReaction(id: $id, reaction: $r) { id } }"
WHO = "query ($id: ID!) { messageReactions(id: $id) { reaction user { id } } }"


def path(room: str, message_id: int, reaction: str = "") -> str:
    base = f"/chat/rooms/{room}/messages/{message_id}/reactions"
    return f"{base}/{quote(reaction, safe='')}" if reaction else base


async def put(
    http: httpx.AsyncClient, who: Account, message_id: int, reaction: str
) -> httpx.Response:
    return await http.put(path("general", message_id, reaction), headers=who.headers)


async def test_reactions_through_every_door_reach_every_door(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice, bob, carol, dave = [await make_account() for _ in range(4)]
    await make_room(http, alice, "general")
    message_id = await rest_post(http, alice, "general", "react to me")
    async with (
        chat_client(service.ws_url, alice.token) as ws,
        chat_client(service.ws_url, dave.token) as ws_dave,
        ws_client(service, alice.token) as gql,
    ):
        await join(ws, "general")
        await gql.subscribe("c", CHANGES, {"room": "general", "after": str(message_id)})

        response = await put(http, bob, message_id, "👍")
        assert response.status_code == 200, response.text
        assert response.json()["reactions"] == [{"reaction": "👍", "count": 1, "me": True}]
        again = await put(http, bob, message_id, "👍")  # idempotent: no second event
        assert again.json()["reactions"] == [{"reaction": "👍", "count": 1, "me": True}]
        data_of(await graphql(ADD, {"id": str(message_id), "r": "👍"}, token=carol.token))
        ack = await request(ws_dave, {"type": "react", "id": message_id, "reaction": ":tada:"})
        assert ack["type"] == "ack"

        frames = [await recv(ws) for _ in range(3)]
        assert [(f["type"], f["user_id"], f["reaction"], f["added"]) for f in frames] == [
            ("reaction", bob.id, "👍", True),
            ("reaction", carol.id, "👍", True),
            ("reaction", dave.id, ":tada:", True),
        ]
        assert {f["id"] for f in frames} == {message_id}
        changes = [(await gql.next_data("c"))["roomMessageChanges"] for _ in range(3)]
        assert [(c["kind"], c["user"]["id"], c["reaction"]) for c in changes] == [
            ("REACTION_ADDED", str(bob.id), "👍"),
            ("REACTION_ADDED", str(carol.id), "👍"),
            ("REACTION_ADDED", str(dave.id), ":tada:"),
        ]
        assert [c["eventId"] for c in changes] == [str(f["event_id"]) for f in frames]
        await silence(ws)

        removed = await http.delete(path("general", message_id, "👍"), headers=bob.headers)
        assert removed.status_code == 204
        frame = await recv(ws)
        assert (frame["user_id"], frame["added"]) == (bob.id, False)
        assert (await gql.next_data("c"))["roomMessageChanges"]["kind"] == "REACTION_REMOVED"
        gone = await http.delete(path("general", message_id, "👍"), headers=bob.headers)
        assert gone.status_code == 204  # not there: nothing changes, nobody is told
        await silence(ws)

    # History: counts per reaction, and whether the viewer reacted.
    response = await http.get("/chat/rooms/general/messages", headers=carol.headers)
    assert response.json()[0]["reactions"] == [
        {"reaction": "👍", "count": 1, "me": True},
        {"reaction": ":tada:", "count": 1, "me": False},
    ]
    node = data_of(await graphql(HISTORY, {"room": "general"}, token=dave.token))
    reactions = node["roomMessages"]["edges"][0]["node"]["reactions"]
    assert reactions == [
        {"reaction": "👍", "count": 1, "viewerReacted": False},
        {"reaction": ":tada:", "count": 1, "viewerReacted": True},
    ]
    async with chat_client(service.ws_url, bob.token) as ws:
        reply = await request(ws, {"type": "room_history", "room": "general"})
        assert reply["messages"][0]["reactions"][0] == {"reaction": "👍", "count": 1, "me": False}
        who = await request(ws, {"type": "reactions", "id": message_id})
    # Who reacted, on every door.
    expected = [{"reaction": "👍", "user_id": carol.id}, {"reaction": ":tada:", "user_id": dave.id}]
    assert who["reactions"] == expected
    listed = await http.get(path("general", message_id), headers=bob.headers)
    assert listed.json() == expected
    body = data_of(await graphql(WHO, {"id": str(message_id)}, token=bob.token))
    assert [(r["reaction"], int(r["user"]["id"])) for r in body["messageReactions"]] == [
        ("👍", carol.id),
        (":tada:", dave.id),
    ]


@pytest.mark.parametrize(
    ("reaction", "accepted"),
    [
        ("👍", True),
        ("👍🏽", True),  # with a skin tone: one grapheme cluster
        ("👨‍👩‍👧", True),  # a ZWJ sequence
        ("🇫🇷", True),
        ("é", True),
        (":+1:", True),
        (":" + "a" * limits.SHORTCODE_MAX + ":", True),
        (":" + "a" * (limits.SHORTCODE_MAX + 1) + ":", False),
        ("::", False),
        (":Thumbs:", False),
        ("ab", False),
        ("👍👍", False),
        (" ", False),
        ("\u200b", False),
    ],
)
async def test_what_a_reaction_is(
    http: httpx.AsyncClient, make_account: MakeAccount, reaction: str, accepted: bool
) -> None:
    alice = await make_account()
    await make_room(http, alice, "general")
    message_id = await rest_post(http, alice, "general", "hi")
    response = await put(http, alice, message_id, reaction)
    assert response.status_code == (200 if accepted else 422), response.text
    if not accepted:
        assert response.json()["error"]["code"] == "BAD_USER_INPUT"


async def test_at_most_so_many_distinct_reactions_per_message(
    http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL, roomy: None
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    message_id = await rest_post(http, alice, "general", "hi")
    limit = runtime.get().settings.message_max_reactions
    assert limit == 20
    for n in range(limit):
        assert (await put(http, alice, message_id, f":r{n}:")).status_code == 200
    refused = await put(http, alice, message_id, ":one-too-many:")
    assert refused.status_code == 409
    assert str(limit) in refused.json()["error"]["message"]
    # A reaction already there may still be given by someone else.
    assert (await put(http, bob, message_id, ":r0:")).status_code == 200
    body = await graphql(ADD, {"id": str(message_id), "r": ":r99:"}, token=bob.token)
    assert error_codes(body) == ["CONFLICT"]


async def test_a_deleted_message_drops_its_reactions_and_takes_no_more(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    message_id = await rest_post(http, alice, "general", "hi")
    assert (await put(http, bob, message_id, "👍")).status_code == 200
    deleted = await http.delete(f"/chat/rooms/general/messages/{message_id}", headers=alice.headers)
    assert deleted.status_code == 204
    assert (await put(http, bob, message_id, "👍")).status_code == 409
    (row,) = (await http.get("/chat/rooms/general/messages", headers=bob.headers)).json()
    assert row["deleted"] is True
    assert "reactions" not in row
    assert (await http.get(path("general", message_id), headers=bob.headers)).json() == []


async def test_join_after_replays_reactions(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    older = await rest_post(http, alice, "general", "older")
    cursor = await rest_post(http, alice, "general", "cursor")
    assert (await put(http, bob, older, "👀")).status_code == 200
    async with chat_client(service.ws_url, bob.token) as ws:
        await send(ws, {"type": "join", "room": "general", "after": cursor, "ref": "j"})
        _joined, replayed = await recv_until(ws, "joined")
    assert [(f["type"], f["id"], f["reaction"]) for f in replayed] == [("reaction", older, "👀")]


async def test_dm_reactions(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob, eve = await make_account(), await make_account(), await make_account()
    response = await http.post(f"/chat/dm/{bob.id}", json={"content": "hi"}, headers=alice.headers)
    dm_id = response.json()["id"]
    async with chat_client(service.ws_url, alice.token) as ws:
        ack = await request(ws, {"type": "dm_react", "id": dm_id, "reaction": "❤️"})
        assert ack["type"] == "ack"
        frame = await recv(ws)
        assert (frame["type"], frame["reaction"], frame["user_id"]) == (
            "dm_reaction",
            "❤️",
            alice.id,
        )
        refused = await request(ws, {"type": "dm_reactions", "id": 999_999})
        assert refused["code"] == "NOT_FOUND"
    outsider = await http.put(
        f"/chat/dm/{alice.id}/messages/{dm_id}/reactions/{quote('❤️')}", headers=eve.headers
    )
    assert outsider.status_code == 404
    history = (await http.get(f"/chat/dm/{alice.id}", headers=bob.headers)).json()
    assert history[0]["reactions"] == [{"reaction": "❤️", "count": 1, "me": False}]


async def test_history_with_reactions_replies_and_attachments_costs_a_constant_number_of_queries(
    service: Service,
    http: httpx.AsyncClient,
    graphql: GraphQL,
    make_account: MakeAccount,
    monkeypatch: pytest.MonkeyPatch,
    roomy: None,
) -> None:
    """5 or 50 messages, each replying to the one before, with an attachment
    and reactions by several users: the same queries on GraphQL, REST and WS."""
    people = [await make_account() for _ in range(4)]
    files = []
    for who in people:
        response = await http.post(
            "/files", files={"file": ("f.txt", b"file", "text/plain")}, headers=who.headers
        )
        files.append(response.json()["id"])
    for name, count in (("small", 5), ("large", 50)):
        await make_room(http, people[0], name)
        previous = None
        for n in range(count):
            response = await http.post(
                f"/chat/rooms/{name}/messages",
                json={
                    "content": f"{name} {n}",
                    "reply_to": previous,
                    "attachments": [files[n % 4]],
                },
                headers=people[n % 4].headers,
            )
            message_id = previous = response.json()["id"]
            for who, reaction in zip(people, ("👍", "👍", ":tada:", "👀"), strict=True):
                response = await http.put(
                    f"/chat/rooms/{name}/messages/{message_id}/reactions/{quote(reaction)}",
                    headers=who.headers,
                )
                assert response.status_code == 200
    counter = QueryCounter(monkeypatch)
    costs: dict[tuple[str, str], int] = {}
    for name, count in (("small", 5), ("large", 50)):
        counter.count = 0
        body = data_of(await graphql(HISTORY, {"room": name}, token=people[1].token))
        edges = body["roomMessages"]["edges"]
        assert len(edges) == count
        assert edges[0]["node"]["reactions"][0] == {
            "reaction": "👍",
            "count": 2,
            "viewerReacted": True,
        }
        costs["graphql", name] = counter.count
        counter.count = 0
        rows = (await http.get(f"/chat/rooms/{name}/messages", headers=people[1].headers)).json()
        assert len(rows) == count
        assert rows[-1]["reply_to"]["id"] == rows[-2]["id"]
        assert rows[-1]["attachments"][0]["id"] in files
        costs["rest", name] = counter.count
        async with chat_client(service.ws_url, people[1].token) as ws:
            counter.count = 0
            reply = await request(ws, {"type": "room_history", "room": name})
            assert len(reply["messages"]) == count
            costs["ws", name] = counter.count
    assert costs["graphql", "small"] == costs["graphql", "large"], costs
    assert costs["rest", "small"] == costs["rest", "large"], costs
    assert costs["ws", "small"] == costs["ws", "large"], costs
    assert costs["graphql", "large"] <= 10, costs
