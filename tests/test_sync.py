"""One sync call (issue 15) on every door: what changed since a token.

New messages per room (capped, ``limited`` with a cursor to page back),
DMs, edits, deletions, reactions, read markers and rooms joined, each once;
the next token; a bad or someone else's token is BAD_USER_INPUT.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from resolvers.limits import SYNC_ROOM_MESSAGES as ROOM_MESSAGES
from tests.conftest import GraphQL, MakeAccount, data_of, error_codes
from tests.harness import Service
from tests.helpers import gql_join as join
from tests.helpers import make_room, rest_sync
from tests.helpers import rest_dm as dm
from tests.helpers import rest_post as post
from tests.ws_helpers import chat_client, request

SYNC = """
query ($since: String) {
  sync(since: $since) {
    next left
    rooms { room { id name } joined limited before changesLimited
            messages { id content deleted } changes { eventId kind messageId content reaction } }
    directMessages { id content } directMessagesLimited
    directMessageChanges { eventId kind messageId }
    readMarkers { roomId withUser lastReadId }
  }
}
"""


@pytest.fixture
def chatty(roomy: None) -> None:
    """A message budget for long histories."""


def summary(body: dict[str, Any]) -> dict[str, Any]:
    """What a REST or WS sync says, door-neutral."""
    return {
        "rooms": {
            r["room"]: (
                r["joined"],
                [m["content"] for m in r["messages"]],
                [(c["type"], c["id"]) for c in r["changes"]],
            )
            for r in body["rooms"]
        },
        "dms": [d["content"] for d in body["dms"]],
        "markers": [m["last_read_id"] for m in body["read_markers"]],
    }


@pytest.mark.usefixtures("chatty")
async def test_sync_returns_each_change_once_on_every_door(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice = await make_account(display_name="alice")
    bob = await make_account(display_name="bob")
    await make_room(http, alice, "general")
    await join(http, bob, "general")
    first = await post(http, alice, "general", "hello")
    await dm(http, alice, bob.id, "psst")

    # The first sync of each door: the room joined, its message, the DM.
    async with chat_client(service.ws_url, bob.token) as ws:
        ws_first = await request(ws, {"type": "sync"})
    rest_first = await rest_sync(http, bob, None)
    gql_first = data_of(await graphql(SYNC, {}, token=bob.token))["sync"]
    want: dict[str, Any] = {
        "rooms": {"general": (True, ["hello"], [])},
        "dms": ["psst"],
        "markers": [],
    }
    assert summary(rest_first) == summary(ws_first) == want
    (room,) = gql_first["rooms"]
    assert (room["joined"], [m["content"] for m in room["messages"]]) == (True, ["hello"])
    assert [d["content"] for d in gql_first["directMessages"]] == ["psst"]

    # Nothing new: nothing returned, the token stays usable.
    again = await rest_sync(http, bob, rest_first["next"])
    assert summary(again) == {"rooms": {}, "dms": [], "markers": []}

    # A message, an edit, a reaction, a deletion, a DM, a marker and a new room.
    second = await post(http, alice, "general", "second")
    await http.patch(
        f"/chat/rooms/general/messages/{first}", json={"content": "hello!"}, headers=alice.headers
    )
    await http.put(
        f"/chat/rooms/general/messages/{first}/reactions/%F0%9F%91%8D", headers=alice.headers
    )
    await http.delete(f"/chat/rooms/general/messages/{second}", headers=alice.headers)
    await dm(http, alice, bob.id, "again")
    await http.put("/chat/rooms/general/read", json={"message_id": first}, headers=bob.headers)
    await make_room(http, alice, "news")
    await join(http, bob, "news")
    await post(http, alice, "news", "breaking")

    want = {
        "rooms": {
            "general": (
                False,
                [""],  # the second message, deleted since: a tombstone
                [("message_edited", first), ("reaction", first), ("message_deleted", second)],
            ),
            "news": (True, ["breaking"], []),
        },
        "dms": ["again"],
        "markers": [first],
    }
    rest_next = await rest_sync(http, bob, again["next"])
    assert summary(rest_next) == want
    async with chat_client(service.ws_url, bob.token) as ws:
        ws_next = await request(ws, {"type": "sync", "since": ws_first["next"]})
    assert summary(ws_next) == want
    gql_next = data_of(await graphql(SYNC, {"since": gql_first["next"]}, token=bob.token))["sync"]
    kinds = {r["room"]["name"]: [c["kind"] for c in r["changes"]] for r in gql_next["rooms"]}
    assert kinds == {"general": ["EDITED", "REACTION_ADDED", "DELETED"], "news": []}
    assert [m["lastReadId"] for m in gql_next["readMarkers"]] == [str(first)]
    assert summary(await rest_sync(http, bob, rest_next["next"])) == {
        "rooms": {},
        "dms": [],
        "markers": [],
    }


@pytest.mark.usefixtures("chatty")
async def test_a_busy_room_is_limited_and_pages_back_with_history(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice = await make_account(display_name="alice")
    await make_room(http, alice, "busy")
    body = await rest_sync(http, alice, None)
    total = ROOM_MESSAGES + 7
    sent = [await post(http, alice, "busy", f"m{i}") for i in range(total)]
    (room,) = (await rest_sync(http, alice, body["next"]))["rooms"]
    assert room["limited"] is True
    got = [m["id"] for m in room["messages"]]
    assert got == sent[-ROOM_MESSAGES:]
    assert room["before"] == got[0]
    response = await http.get(
        "/chat/rooms/busy/messages", params={"before": room["before"]}, headers=alice.headers
    )
    older = [m["id"] for m in response.json()]
    assert older == sent[:7]


async def test_a_bad_or_foreign_token_is_bad_user_input_on_every_door(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice = await make_account(display_name="alice")
    bob = await make_account(display_name="bob")
    alices = (await rest_sync(http, alice, None))["next"]
    bad = ["", "nope", "s1.", "s1.!!!", "s1.eJzLSM3JyQcABiwCFQ", alices, "s1." + "A" * 60_000]
    for since in bad:
        response = await http.get("/chat/sync", params={"since": since}, headers=bob.headers)
        assert response.status_code == 422, (since[:20], response.text)
        assert response.json()["error"]["field"] == "since"
        assert error_codes(await graphql(SYNC, {"since": since}, token=bob.token)) == [
            "BAD_USER_INPUT"
        ]
    async with chat_client(service.ws_url, bob.token) as ws:
        for frame in ({"type": "sync", "since": alices}, {"type": "sync", "since": 5}):
            reply = await request(ws, frame)
            assert (reply["type"], reply["code"]) == ("error", "BAD_USER_INPUT")
    assert (await http.get("/chat/sync")).status_code == 401
