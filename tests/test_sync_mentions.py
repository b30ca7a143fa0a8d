"""Sync reports the caller's mentions, in rooms joined or not (issue 15).

A mention goes live to the mentioned user on their own channel whether or
not they joined the room (``resolvers.mentions``); a client that only
syncs must learn of it too. It comes once, in ``mentions``, on every door,
as the message is now (a deleted one: empty, ``deleted``); nobody else's
sync shows it.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import GraphQL, MakeAccount, data_of
from tests.harness import Service
from tests.helpers import make_room
from tests.helpers import rest_post as post
from tests.ws_helpers import chat_client, request

SYNC = """
query ($since: String) {
  sync(since: $since) { next rooms { room { name } } mentions { eventId messageId content deleted room { name } author { id } } }
}
"""  # noqa: E501


async def rest_sync(http: httpx.AsyncClient, token: str, since: str | None) -> dict[str, Any]:
    params = {"since": since} if since is not None else {}
    response = await http.get(
        "/chat/sync", params=params, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_sync_reports_mentions_in_rooms_not_joined_on_every_door(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice = await make_account(display_name="alice")
    carol = await make_account(display_name="carol")
    dave = await make_account(display_name="dave")
    room_id = await make_room(http, alice, "plaza")
    rest_first = await rest_sync(http, carol.token, None)
    gql_first = data_of(await graphql(SYNC, {}, token=carol.token))["sync"]
    async with chat_client(service.ws_url, carol.token) as ws:
        ws_first = await request(ws, {"type": "sync"})
    for body in (rest_first, ws_first):
        assert body["mentions"] == []
    dave_first = await rest_sync(http, dave.token, None)

    said = await post(http, alice, "plaza", "hello @carol")
    gone = await post(http, alice, "plaza", f"and <@{carol.id}> again")
    deleted = await http.delete(f"/chat/rooms/plaza/messages/{gone}", headers=alice.headers)
    assert deleted.status_code in (200, 204), deleted.text

    rest_next = await rest_sync(http, carol.token, rest_first["next"])
    async with chat_client(service.ws_url, carol.token) as ws:
        ws_next = await request(ws, {"type": "sync", "since": ws_first["next"]})
    assert rest_next["rooms"] == []  # carol never joined plaza
    for body in (rest_next, ws_next):
        got = [{k: v for k, v in m.items() if k != "event_id"} for m in body["mentions"]]
        assert got == [
            {
                "type": "mention",
                "id": said,
                "room": "plaza",
                "room_id": room_id,
                "from_user": alice.id,
                "content": "hello @carol",
            },
            {
                "type": "mention",
                "id": gone,
                "room": "plaza",
                "room_id": room_id,
                "from_user": alice.id,
                "content": "",
            },
        ]
    assert rest_next["mentions"] == ws_next["mentions"]
    gql_next = data_of(await graphql(SYNC, {"since": gql_first["next"]}, token=carol.token))["sync"]
    assert [
        (m["eventId"], m["messageId"], m["content"], m["deleted"], m["room"]["name"])
        for m in gql_next["mentions"]
    ] == [
        (str(m["event_id"]), str(m["id"]), m["content"], m["id"] == gone, "plaza")
        for m in rest_next["mentions"]
    ]
    assert {m["author"]["id"] for m in gql_next["mentions"]} == {str(alice.id)}

    # Once: the next sync has none; dave, not mentioned, never had any.
    assert (await rest_sync(http, carol.token, rest_next["next"]))["mentions"] == []
    assert (await rest_sync(http, dave.token, dave_first["next"]))["mentions"] == []
