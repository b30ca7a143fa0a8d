"""Who may change a message, door by door, with the five actors of issue 14.

``tests/test_authz_matrix.py`` has a row for every new field, path and
frame with its four actors (anonymous, owner, another MEMBER outside the
owner's private room, an ADMIN outside it). Here the room is private and
has three members: the ``author``, another ``member`` and an ``admin``;
the ``outsider`` is signed in but not a member. Each cell aims at a
message of the author's (a fresh one for destructive cells).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import Account, GraphQL, MakeAccount, data_of
from tests.harness import Service
from tests.helpers import make_room
from tests.ws_helpers import chat_client, handshake_status, request

ACTORS = ("anonymous", "author", "member", "outsider", "admin")
OK = "ok"


@dataclass
class Room:
    http: httpx.AsyncClient
    graphql: GraphQL
    accounts: dict[str, Account]
    ws_url: str

    def headers(self, actor: str) -> dict[str, str]:
        account = self.accounts.get(actor)
        return account.headers if account else {}

    async def fresh(self) -> int:
        response = await self.http.post(
            "/chat/rooms/club/messages",
            json={"content": "the author's"},
            headers=self.accounts["author"].headers,
        )
        assert response.status_code == 201, response.text
        message_id: int = response.json()["id"]
        return message_id


Cell = Callable[[Room, str, int], Awaitable[str]]


def rest(method: str, suffix: str = "", success: int = 200, **kwargs: Any) -> Cell:
    async def cell(room: Room, actor: str, message_id: int) -> str:
        path = f"/chat/rooms/club/messages/{message_id}{suffix}"
        response = await room.http.request(method, path, headers=room.headers(actor), **kwargs)
        if response.status_code == success:
            return OK
        return str(response.status_code)

    return cell


def gql(query: str, **extra: Any) -> Cell:
    async def cell(room: Room, actor: str, message_id: int) -> str:
        account = room.accounts.get(actor)
        body = await room.graphql(
            query, {"id": str(message_id), **extra}, token=account.token if account else None
        )
        if body.get("errors"):
            return str(body["errors"][0]["extensions"]["code"])
        return OK

    return cell


def ws(frame: dict[str, Any]) -> Cell:
    async def cell(room: Room, actor: str, message_id: int) -> str:
        account = room.accounts.get(actor)
        if account is None:
            return str(await handshake_status(room.ws_url))
        async with chat_client(room.ws_url, account.token) as conn:
            reply = await request(conn, {**frame, "id": message_id})
        return str(reply["code"]) if reply["type"] == "error" else OK

    return cell


FORBID = ("401", OK, "403", "404", "403")  # only the author
DELETE = ("401", OK, "403", "404", OK)  # the author or an ADMIN
READERS = ("401", OK, OK, "404", OK)  # whoever may read the message
G_FORBID = ("UNAUTHENTICATED", OK, "FORBIDDEN", "NOT_FOUND", "FORBIDDEN")
G_DELETE = ("UNAUTHENTICATED", OK, "FORBIDDEN", "NOT_FOUND", OK)
G_READERS = ("UNAUTHENTICATED", OK, OK, "NOT_FOUND", OK)
W_FORBID = ("401", OK, "FORBIDDEN", "NOT_FOUND", "FORBIDDEN")
W_DELETE = ("401", OK, "FORBIDDEN", "NOT_FOUND", OK)
W_READERS = ("401", OK, OK, "NOT_FOUND", OK)

# (cell, expected per actor, whether each actor needs a fresh message)
TABLE: dict[str, tuple[Cell, tuple[str, ...], bool]] = {
    "PATCH message": (rest("PATCH", json={"content": "changed"}), FORBID, False),
    "DELETE message": (rest("DELETE", success=204), DELETE, True),
    "GET reactions": (rest("GET", "/reactions"), READERS, False),
    "PUT reaction": (rest("PUT", "/reactions/%F0%9F%91%8D"), READERS, False),
    "DELETE reaction": (rest("DELETE", "/reactions/%F0%9F%91%8D", 204), READERS, False),
    "editMessage": (
        gql('mutation ($id: ID!) { editMessage(id: $id, content: "x") { id } }'),
        G_FORBID,
        False,
    ),
    "deleteMessage": (
        gql("mutation ($id: ID!) { deleteMessage(id: $id) { id } }"),
        G_DELETE,
        True,
    ),
    "addReaction": (
        gql('mutation ($id: ID!) { addReaction(id: $id, reaction: ":ok:") { id } }'),
        G_READERS,
        False,
    ),
    "removeReaction": (
        gql('mutation ($id: ID!) { removeReaction(id: $id, reaction: ":ok:") { id } }'),
        G_READERS,
        False,
    ),
    "messageReactions": (
        gql("query ($id: ID!) { messageReactions(id: $id) { reaction } }"),
        G_READERS,
        False,
    ),
    "ws edit": (ws({"type": "edit", "content": "x"}), W_FORBID, False),
    "ws delete": (ws({"type": "delete"}), W_DELETE, True),
    "ws react": (ws({"type": "react", "reaction": "🎉"}), W_READERS, False),
    "ws unreact": (ws({"type": "unreact", "reaction": "🎉"}), W_READERS, False),
    "ws reactions": (ws({"type": "reactions"}), W_READERS, False),
}


async def test_five_actors_on_every_door(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    author, member, outsider = await make_account(), await make_account(), await make_account()
    admin = await make_account(admin=True)
    await make_room(http, author, "club", private=True)
    add = 'mutation ($u: ID!) { addRoomMember(room: "club", userId: $u) { id } }'
    for who in (member, admin):
        data_of(await graphql(add, {"u": str(who.id)}, token=author.token))
    accounts = {"author": author, "member": member, "outsider": outsider, "admin": admin}
    room = Room(http, graphql, accounts, service.ws_url)
    shared = await room.fresh()
    got: dict[str, tuple[str, ...]] = {}
    for entry, (cell, _expected, fresh) in TABLE.items():
        outcomes = []
        for actor in ACTORS:
            target = await room.fresh() if fresh else shared
            outcomes.append(await cell(room, actor, target))
        got[entry] = tuple(outcomes)
    assert {e: got[e] for e in TABLE if got[e] != TABLE[e][1]} == {}
