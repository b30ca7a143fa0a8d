"""The authorization matrix (OWASP API1, API3, API5), door by door.

For every GraphQL root field, every REST route and every chat WebSocket
frame type, the tables below say what each of four actors gets when aiming
at the owner's things: ``anonymous``, the MEMBER ``owner``, an ``other``
MEMBER and an ``admin``. A cell is ``ok`` (allowed, and the owner's object
is there), ``hidden`` (allowed, but the owner's object is not shown),
``null`` (a nullable field answering null, as for an id that does not
exist) or the exact refusal: GraphQL ``extensions.code``, REST
``<status> <code>``, WS ``error`` frame code, ``handshake 401`` for a chat
WebSocket without a token, ``close 4403`` for a subscription without one.

The tables come from the contract (``../shared/contract``) and the
checklist; the entries are enumerated from the live schema (introspection),
the app's routes and the frame parser, so a field, route or frame added
without a row here fails ``test_every_*_has_a_row``.

Rows that the permission table (``resolvers/permissions.py``) decides say
``ruled(Action...)`` instead of their cells: the cells are derived from the
entry's rule (``tests.authz_world.derived``). Every entry of the table is
probed by at least one such row (``test_every_permission_is_probed``);
``*_RULES`` add rows where the table decides alone (a public room, a DM to
the caller, a resource's file, another user's address).

Every response read is kept per actor: none may carry a password hash, a
refresh-token hash, or the email of another account (GraphQL
``User.email`` is "" for others; ADMINs see addresses).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route

from core.settings import Registration
from resolvers import users
from resolvers.permissions import TABLE, Action, Rule
from tests.authz_world import (
    ACTORS,
    GRAPHQL_DOOR,
    HIDDEN,
    OK,
    REST_DOOR,
    WS_DOOR,
    Door,
    Ruled,
    World,
    assert_nothing_leaked,
    build_world,
    derived,
    ruled,
    subscriber,
    unique,
)
from tests.conftest import PASSWORD, Account, MakeAccount, OverrideSettings
from tests.harness import Service
from tests.ws_helpers import chat_client, handshake_status, request
from ws.frames import PARSERS

Expect = tuple[str, str, str, str]  # anonymous, owner, other, admin
Probe = Callable[[World, str], Awaitable[str]]
Table = dict[str, tuple[Probe, Expect | Ruled]]

U, F, N = "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"
NULL = "null"
ALL_OK: Expect = (OK, OK, OK, OK)
SIGNED_IN: Expect = (U, OK, OK, OK)
# The owner's private room: (U, OK, N, N), each door writing its refusal.
MEMBERS_ONLY = ruled(Action.PRIVATE_ROOM_READ)
# Editing the owner's message there: only members see it, only its author edits.
MEMBERS_EDIT = ruled(Action.PRIVATE_ROOM_READ, Action.MESSAGE_EDIT)

R401, R403, R404 = "401 UNAUTHENTICATED", "403 FORBIDDEN", "404 NOT_FOUND"
REST_SIGNED_IN: Expect = (R401, OK, OK, OK)
REST_MEMBERS_ONLY = MEMBERS_ONLY

# Listings show what the caller may read (HIDDEN: not the owner's file).
LISTED_FILES = ruled(Action.FILE_LIST, (Action.FILE_READ, HIDDEN))
# Deleting a file the caller may not read is NOT_FOUND before it is FORBIDDEN.
FILE_DELETE = ruled(Action.FILE_READ, Action.FILE_DELETE)

WS_ANON = "handshake 401"
SUB_ANON = "close 4403"

USER = "{ id email }"


# --- GraphQL -------------------------------------------------------------------------


def gql_outcome(body: dict[str, Any], judge: Callable[[dict[str, Any]], str]) -> str:
    errors = body.get("errors")
    if errors:
        return ",".join(sorted({str((e.get("extensions") or {}).get("code")) for e in errors}))
    data: dict[str, Any] = body["data"]
    return judge(data)


def ids(connection: dict[str, Any]) -> set[int]:
    return {int(edge["node"]["id"]) for edge in connection["edges"]}


def has(wanted: int | set[int] | list[int], found: set[int]) -> str:
    wanted_ids = {wanted} if isinstance(wanted, int) else set(wanted)
    return OK if wanted_ids & found else HIDDEN


def gql(
    query: str,
    variables: Callable[[World, str], Awaitable[dict[str, Any]]] | None,
    judge: Callable[[World, str, dict[str, Any]], str],
) -> Probe:
    async def probe(world: World, actor: str) -> str:
        values = await variables(world, actor) if variables else {}
        body = await world.graphql(actor, query, values)
        return gql_outcome(body, lambda data: judge(world, actor, data))

    return probe


async def _none(world: World, actor: str) -> dict[str, Any]:
    return {}


async def _room(world: World, actor: str) -> dict[str, Any]:
    return {"room": world.room}


async def _fresh_room(world: World, actor: str) -> dict[str, Any]:
    return {"room": await world.fresh_private_room()}


async def _product(world: World, actor: str) -> dict[str, Any]:
    return {"id": str(world.product_id)}


async def _fresh_product(world: World, actor: str) -> dict[str, Any]:
    return {"id": str(await world.fresh_product())}


async def _fresh_file(world: World, actor: str) -> dict[str, Any]:
    return {"id": str(await world.fresh_file())}


async def _refresh(world: World, actor: str) -> dict[str, Any]:
    return {"token": await world.fresh_refresh_token()}


async def _peer(world: World, actor: str) -> dict[str, Any]:
    return {"user": str(world.target_user(actor).id)}


async def _register(world: World, actor: str) -> dict[str, Any]:
    return {"input": {"email": f"{unique('new')}@example.com", "password": "long enough pw"}}


async def _login(world: World, actor: str) -> dict[str, Any]:
    return {"email": world.spare.email, "password": world.spare.password}


async def _name(name: str) -> dict[str, Any]:
    return {"name": name}


async def _add_member(world: World, actor: str) -> dict[str, Any]:
    # Outsiders try to add themselves; the owner adds the spare account.
    account = world.account(actor) if actor in {"other", "admin"} else world.spare
    assert account is not None
    return {"room": await world.fresh_private_room(), "user": str(account.id)}


async def _fresh_user_id(world: World, actor: str) -> int:
    """A throwaway MEMBER to deactivate (the world's accounts stay active)."""
    user = await users.create_user(email=f"{unique('gone')}@example.com", password=PASSWORD)
    return user.id


async def _fresh_user(world: World, actor: str) -> dict[str, Any]:
    return {"id": str(await _fresh_user_id(world, actor))}


async def _fresh_user_path(world: World, actor: str) -> str:
    return f"/users/{await _fresh_user_id(world, actor)}/deactivate"


def _ok_if(key: str) -> Callable[[World, str, dict[str, Any]], str]:
    return lambda world, actor, data: OK if data[key] else f"falsy {key}"


def _me(world: World, actor: str, data: dict[str, Any]) -> str:
    me = data["me"]
    if me is None:
        return NULL
    account = world.account(actor)
    return OK if account and int(me["id"]) == account.id else f"me is {me['id']}"


async def _upload_probe(world: World, actor: str) -> str:
    body = await world.graphql_upload(actor, b"uploaded")
    return gql_outcome(body, lambda data: OK if data["uploadFile"]["id"] else "no id")


async def _subscription_probe(
    world: World, actor: str, query: str, variables: dict[str, Any], judge: Callable[[int], str]
) -> str:
    account = world.account(actor)
    async with subscriber(world.service) as client:
        payload = {"Authorization": f"Bearer {account.token}"} if account else {}
        await client.send({"type": "connection_init", "payload": payload})
        if account is None:
            return f"close {await client.close_code()}"
        ack = await client.receive()
        assert ack["type"] == "connection_ack", ack
        await client.send(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
        message = await client.receive()
        world.record(actor, str(message))
        if message["type"] == "error":
            return gql_outcome({"errors": message["payload"]}, lambda data: "?")
        assert message["type"] == "next", message
        payload = message["payload"]
        return gql_outcome(payload, lambda data: judge(int(next(iter(data.values()))["id"])))


async def _room_subscription(world: World, actor: str) -> str:
    query = f"""subscription ($room: String!) {{
      roomMessages(room: $room, after: "0") {{ id author {USER} room {{ id members {USER} }} }}
    }}"""
    return await _subscription_probe(
        world,
        actor,
        query,
        {"room": world.room},
        lambda got: OK if got == world.message_id else f"message {got}",
    )


async def _dm_subscription(world: World, actor: str) -> str:
    query = f"""subscription {{
      directMessages(after: "0") {{ id fromUser {USER} toUser {USER} }}
    }}"""

    def judge(got: int) -> str:
        # DMs replay in id order; the other member's own DM comes after the
        # owner<->admin ones, so seeing it first means those were not shown.
        if got in world.dm_ids:
            return OK
        return HIDDEN if got == world.other_dm_id else f"dm {got}"

    return await _subscription_probe(world, actor, query, {}, judge)


async def _edit_owner_message(world: World) -> None:
    await world.mark(
        "room edit",
        "PATCH",
        f"/chat/rooms/{world.room}/messages/{world.message_id}",
        "owner",
        json={"content": "edited"},
    )


async def _edit_dms(world: World, actor: str) -> None:
    await world.mark(
        "dm edit",
        "PATCH",
        f"/chat/dm/{world.admin.id}/messages/{world.dm_ids[0]}",
        "owner",
        json={"content": "edited"},
    )
    if actor == "other":
        await world.mark(
            "other dm edit",
            "PATCH",
            f"/chat/dm/{world.owner.id}/messages/{world.other_dm_id}",
            "other",
            json={"content": "edited"},
        )


async def _mentions_subscription(world: World, actor: str) -> str:
    """The ADMIN mentions the owner in a public room, then the owner mentions
    the two others: each sees only the mentions of themselves."""
    if "mention room" not in world.marks:
        room = unique("public")
        response = await world.http.post(
            "/chat/rooms", json={"name": room}, headers=world.admin.headers
        )
        world.marks["mention room"] = response.json()["id"]
        response = await world.http.post(
            f"/chat/rooms/{room}/messages",
            json={"content": f"hey <@{world.owner.id}>"},
            headers=world.admin.headers,
        )
        world.marks["owner mention"] = response.json()["id"]
        response = await world.http.post(
            f"/chat/rooms/{room}/messages",
            json={"content": f"<@{world.other.id}> <@{world.admin.id}> see above"},
            headers=world.owner.headers,
        )
        assert response.status_code == 201, response.text
    query = f"""subscription {{
      mentions(after: "0") {{ id: messageId eventId content author {USER} room {{ id }} }}
    }}"""

    def judge(got: int) -> str:
        return OK if got == world.marks["owner mention"] else HIDDEN

    return await _subscription_probe(world, actor, query, {}, judge)


CHANGE_FIELDS = f"id: messageId eventId kind content room {{ id members {USER} }} user {USER}"


async def _room_changes_subscription(world: World, actor: str) -> str:
    await _edit_owner_message(world)
    query = f"""subscription ($room: String!) {{
      roomMessageChanges(room: $room, after: "0") {{ {CHANGE_FIELDS} }}
    }}"""
    return await _subscription_probe(
        world,
        actor,
        query,
        {"room": world.room},
        lambda got: OK if got == world.message_id else f"change of {got}",
    )


async def _dm_changes_subscription(world: World, actor: str) -> str:
    await _edit_dms(world, actor)
    query = f"""subscription {{ directMessageChanges(after: "0") {{ {CHANGE_FIELDS} }} }}"""

    def judge(got: int) -> str:
        if got in world.dm_ids:
            return OK
        return HIDDEN if got == world.other_dm_id else f"change of {got}"

    return await _subscription_probe(world, actor, query, {}, judge)


def _signal_subscription(selection: str) -> Probe:
    """Signals (presence, typing) replay nothing: a subscription to the
    owner's room is OK once it is live in the server's fan-out, else the
    code of the error it got."""
    query = f"subscription ($room: String) {{ {selection} }}"

    async def probe(world: World, actor: str) -> str:
        account = world.account(actor)
        fanout = world.service.app.state.graphql.live_sockets.fanout
        async with subscriber(world.service) as client:
            payload = {"Authorization": f"Bearer {account.token}"} if account else {}
            await client.send({"type": "connection_init", "payload": payload})
            if account is None:
                return f"close {await client.close_code()}"
            assert (await client.receive())["type"] == "connection_ack"
            before = fanout.subscribers
            for _ in range(20):  # the previous probes' subscriptions are gone
                await asyncio.sleep(0.1)
                if fanout.subscribers == before:
                    break
                before = fanout.subscribers
            variables = {"room": world.room}
            await client.send(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                }
            )
            for _ in range(200):
                try:
                    message = await asyncio.wait_for(client.receive(), 0.05)
                except TimeoutError:
                    if fanout.subscribers > before:
                        return OK
                    continue
                world.record(actor, str(message))
                if message["type"] == "error":
                    return gql_outcome({"errors": message["payload"]}, lambda data: "?")
                return f"message {message['type']}"
            return "neither live nor refused"

    return probe


async def _owner_message(world: World, actor: str) -> dict[str, Any]:
    return {"id": str(world.message_id)}


async def _fresh_message(world: World, actor: str) -> dict[str, Any]:
    return {"id": str(await world.fresh_message())}


async def _owner_dm(world: World, actor: str) -> dict[str, Any]:
    return {"id": str(world.dm_ids[0])}


async def _fresh_dm(world: World, actor: str) -> dict[str, Any]:
    return {"id": str(await world.fresh_dm())}


ROOM_FIELDS = f"id name isPrivate createdBy {USER} members {USER}"
MESSAGE_FIELDS = f"id content author {USER} room {{ id members {USER} }}"
DM_FIELDS = f"id content fromUser {USER} toUser {USER}"


# --- read markers and sync (issue 15) ---------------------------------------------


async def _marker_target(world: World, actor: str) -> dict[str, Any]:
    return {"room": world.room, "id": str(world.message_id)}


async def _dm_marker_target(world: World, actor: str) -> dict[str, Any]:
    return {"user": str(world.target_user(actor).id), "id": str(world.dm_ids[0])}


def _unread_judge(world: World, actor: str, data: dict[str, Any]) -> str:
    return has(world.room_id, {int(r["roomId"]) for r in data["unreadCounts"] if r["roomId"]})


async def _own_marker(world: World, actor: str) -> None:
    """Each actor has a marker of their own; the owner's is on the private room."""
    account = world.account(actor)
    if account is None or f"marker {actor}" in world.marks:
        return
    room, message = world.room, world.message_id
    if actor != "owner":
        room = unique("marks")
        await world.http.post("/chat/rooms", json={"name": room}, headers=account.headers)
        response = await world.http.post(
            f"/chat/rooms/{room}/messages", json={"content": "read me"}, headers=account.headers
        )
        message = response.json()["id"]
    response = await world.http.put(
        f"/chat/rooms/{room}/read", json={"message_id": message}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    world.marks[f"marker {actor}"] = response.json()["event_id"]


async def _markers_subscription(world: World, actor: str) -> str:
    """Each actor replays only their own markers: the first is the owner's only for the owner."""
    await _own_marker(world, actor)
    query = 'subscription { readMarkers(after: "0") { id: eventId roomId lastReadId } }'

    def judge(got: int) -> str:
        owners = world.marks["marker owner"]
        if actor == "owner":
            return OK if got == owners else f"marker {got}"
        return HIDDEN if got != owners else "the owner's marker"

    return await _subscription_probe(world, actor, query, {}, judge)


GRAPHQL: Table = {
    "Query.me": (gql(f"{{ me {USER} }}", None, _me), (NULL, OK, OK, OK)),
    "Query.products": (
        gql(
            "{ products(first: 100) { edges { node { id } } } }",
            None,
            lambda w, a, d: has(w.product_id, ids(d["products"])),
        ),
        ALL_OK,
    ),
    "Query.product": (
        gql(
            "query ($id: ID!) { product(id: $id) { id } }",
            _product,
            lambda w, a, d: OK if d["product"] else NULL,
        ),
        ALL_OK,
    ),
    "Query.files": (
        gql(
            f"{{ files(first: 100) {{ edges {{ node {{ id owner {USER} }} }} }} }}",
            None,
            lambda w, a, d: has(w.file_id, ids(d["files"])),
        ),
        LISTED_FILES,
    ),
    "Query.resources": (
        gql(
            "{ resources(first: 100) { edges { node { id file { id } } } } }",
            None,
            lambda w, a, d: has(w.resource_id, ids(d["resources"])),
        ),
        ruled(Action.RESOURCE_READ),
    ),
    "Query.rooms": (
        gql(
            f"{{ rooms {{ {ROOM_FIELDS} }} }}",
            None,
            lambda w, a, d: has(w.room_id, {int(r["id"]) for r in d["rooms"]}),
        ),
        (U, OK, HIDDEN, HIDDEN),
    ),
    "Query.room": (
        gql(
            f"query ($room: String!) {{ room(room: $room) {{ {ROOM_FIELDS} }} }}",
            _room,
            lambda w, a, d: OK if d["room"] else NULL,
        ),
        (U, OK, NULL, NULL),
    ),
    "Query.roomMessages": (
        gql(
            f"query ($room: String!) {{ roomMessages(room: $room) "
            f"{{ edges {{ node {{ {MESSAGE_FIELDS} }} }} }} }}",
            _room,
            lambda w, a, d: has(w.message_id, ids(d["roomMessages"])),
        ),
        MEMBERS_ONLY,
    ),
    "Query.directMessages": (
        gql(
            f"query ($user: ID!) {{ directMessages(withUser: $user) "
            f"{{ edges {{ node {{ {DM_FIELDS} }} }} }} }}",
            _peer,
            lambda w, a, d: has(w.dm_ids, ids(d["directMessages"])),
        ),
        (U, OK, HIDDEN, OK),
    ),
    "Mutation.register": (
        gql(
            f"mutation ($input: RegisterInput!) {{ register(input: $input) "
            f"{{ accessToken user {USER} }} }}",
            _register,
            _ok_if("register"),
        ),
        ALL_OK,
    ),
    "Mutation.login": (
        gql(
            f"mutation ($email: String!, $password: String!) {{ login(email: $email, "
            f"password: $password) {{ accessToken user {USER} }} }}",
            _login,
            _ok_if("login"),
        ),
        ALL_OK,
    ),
    "Mutation.refreshTokens": (
        gql(
            "mutation ($token: String!) { refreshTokens(refreshToken: $token) "
            "{ accessToken refreshToken } }",
            _refresh,
            _ok_if("refreshTokens"),
        ),
        ALL_OK,
    ),
    "Mutation.logout": (
        gql(
            "mutation ($token: String!) { logout(refreshToken: $token) }",
            _refresh,
            _ok_if("logout"),
        ),
        ALL_OK,
    ),
    "Mutation.deactivateUser": (
        gql(
            "mutation ($id: ID!) { deactivateUser(id: $id) }", _fresh_user, _ok_if("deactivateUser")
        ),
        ruled(Action.USER_DEACTIVATE),
    ),
    "Mutation.createProduct": (
        gql(
            'mutation { createProduct(input: {name: "Lamp", price: "12.50"}) { id } }',
            None,
            _ok_if("createProduct"),
        ),
        ruled(Action.PRODUCT_WRITE),
    ),
    "Mutation.updateProduct": (
        gql(
            "mutation ($id: ID!) { updateProduct(id: $id, input: {stock: 7}) { id } }",
            _product,
            _ok_if("updateProduct"),
        ),
        ruled(Action.PRODUCT_WRITE),
    ),
    "Mutation.deleteProduct": (
        gql(
            "mutation ($id: ID!) { deleteProduct(id: $id) }",
            _fresh_product,
            _ok_if("deleteProduct"),
        ),
        ruled(Action.PRODUCT_WRITE),
    ),
    "Mutation.uploadFile": (_upload_probe, ruled(Action.FILE_UPLOAD)),
    "Mutation.deleteFile": (
        gql("mutation ($id: ID!) { deleteFile(id: $id) }", _fresh_file, _ok_if("deleteFile")),
        FILE_DELETE,
    ),
    "Mutation.createResource": (
        gql(
            'mutation { createResource(input: {title: "Guide", kind: LINK, '
            'url: "https://example.com/guide"}) { id } }',
            None,
            _ok_if("createResource"),
        ),
        ruled(Action.RESOURCE_CREATE),
    ),
    "Mutation.createRoom": (
        gql(
            f"mutation ($name: String!) {{ createRoom(name: $name, isPrivate: true) "
            f"{{ {ROOM_FIELDS} }} }}",
            lambda w, a: _name(unique("room")),
            _ok_if("createRoom"),
        ),
        SIGNED_IN,
    ),
    "Mutation.joinRoom": (
        gql(
            f"mutation ($room: String!) {{ joinRoom(room: $room) {{ {ROOM_FIELDS} }} }}",
            _fresh_room,
            _ok_if("joinRoom"),
        ),
        MEMBERS_ONLY,
    ),
    "Mutation.addRoomMember": (
        gql(
            f"mutation ($room: String!, $user: ID!) {{ addRoomMember(room: $room, "
            f"userId: $user) {{ {ROOM_FIELDS} }} }}",
            _add_member,
            _ok_if("addRoomMember"),
        ),
        MEMBERS_ONLY,
    ),
    "Mutation.sendMessage": (
        gql(
            f'mutation ($room: String!) {{ sendMessage(room: $room, content: "hi") '
            f"{{ {MESSAGE_FIELDS} }} }}",
            _room,
            _ok_if("sendMessage"),
        ),
        MEMBERS_ONLY,
    ),
    "Mutation.sendDirectMessage": (
        gql(
            f'mutation ($user: ID!) {{ sendDirectMessage(to: $user, content: "hi") '
            f"{{ {DM_FIELDS} }} }}",
            _peer,
            _ok_if("sendDirectMessage"),
        ),
        SIGNED_IN,
    ),
    # Messages that change (issue 14): the owner's message in the owner's
    # private room, the owner's DM to the ADMIN. A non-member and an ADMIN
    # outside the room do not see it (404); the DM's other party may read
    # it but not change it (403). tests/test_chat_message_changes.py adds a
    # member of a public room and an ADMIN who can see the room.
    "Mutation.editMessage": (
        gql(
            f'mutation ($id: ID!) {{ editMessage(id: $id, content: "edited") '
            f"{{ {MESSAGE_FIELDS} editedAt }} }}",
            _owner_message,
            _ok_if("editMessage"),
        ),
        MEMBERS_EDIT,
    ),
    "Mutation.deleteMessage": (
        gql(
            f"mutation ($id: ID!) {{ deleteMessage(id: $id) {{ {MESSAGE_FIELDS} deleted }} }}",
            _fresh_message,
            _ok_if("deleteMessage"),
        ),
        MEMBERS_ONLY,
    ),
    "Mutation.editDirectMessage": (
        gql(
            f'mutation ($id: ID!) {{ editDirectMessage(id: $id, content: "edited") '
            f"{{ {DM_FIELDS} editedAt }} }}",
            _owner_dm,
            _ok_if("editDirectMessage"),
        ),
        (U, OK, N, F),
    ),
    "Mutation.deleteDirectMessage": (
        gql(
            f"mutation ($id: ID!) {{ deleteDirectMessage(id: $id) {{ {DM_FIELDS} deleted }} }}",
            _fresh_dm,
            _ok_if("deleteDirectMessage"),
        ),
        (U, OK, N, F),
    ),
    "Query.messageReactions": (
        gql(
            f"query ($id: ID!) {{ messageReactions(id: $id) {{ reaction user {USER} }} }}",
            _owner_message,
            lambda w, a, d: OK if d["messageReactions"] is not None else NULL,
        ),
        MEMBERS_ONLY,
    ),
    "Query.directMessageReactions": (
        gql(
            f"query ($id: ID!) {{ directMessageReactions(id: $id) {{ reaction user {USER} }} }}",
            _owner_dm,
            lambda w, a, d: OK if d["directMessageReactions"] is not None else NULL,
        ),
        (U, OK, N, OK),
    ),
    "Mutation.addReaction": (
        gql(
            f'mutation ($id: ID!) {{ addReaction(id: $id, reaction: ":+1:") '
            f"{{ {MESSAGE_FIELDS} reactions {{ reaction count viewerReacted }} }} }}",
            _owner_message,
            _ok_if("addReaction"),
        ),
        MEMBERS_ONLY,
    ),
    "Mutation.removeReaction": (
        gql(
            f'mutation ($id: ID!) {{ removeReaction(id: $id, reaction: ":+1:") '
            f"{{ {MESSAGE_FIELDS} }} }}",
            _owner_message,
            _ok_if("removeReaction"),
        ),
        MEMBERS_ONLY,
    ),
    "Mutation.addDirectMessageReaction": (
        gql(
            f'mutation ($id: ID!) {{ addDirectMessageReaction(id: $id, reaction: ":+1:") '
            f"{{ {DM_FIELDS} reactions {{ reaction count viewerReacted }} }} }}",
            _owner_dm,
            _ok_if("addDirectMessageReaction"),
        ),
        (U, OK, N, OK),
    ),
    "Mutation.removeDirectMessageReaction": (
        gql(
            f'mutation ($id: ID!) {{ removeDirectMessageReaction(id: $id, reaction: ":+1:") '
            f"{{ {DM_FIELDS} }} }}",
            _owner_dm,
            _ok_if("removeDirectMessageReaction"),
        ),
        (U, OK, N, OK),
    ),
    "Subscription.roomMessageChanges": (_room_changes_subscription, (SUB_ANON, OK, N, N)),
    "Subscription.directMessageChanges": (
        _dm_changes_subscription,
        (SUB_ANON, OK, HIDDEN, OK),
    ),
    "Subscription.mentions": (_mentions_subscription, (SUB_ANON, OK, HIDDEN, HIDDEN)),
    "Subscription.roomMessages": (_room_subscription, (SUB_ANON, OK, N, N)),
    "Subscription.directMessages": (_dm_subscription, (SUB_ANON, OK, HIDDEN, OK)),
    "Query.unreadCounts": (
        gql("{ unreadCounts { roomId roomName withUser unread mentions } }", None, _unread_judge),
        (U, OK, HIDDEN, HIDDEN),
    ),
    "Mutation.markRoomRead": (
        gql(
            "mutation ($room: String!, $id: ID!) { markRoomRead(room: $room, messageId: $id) "
            "{ roomId lastReadId } }",
            _marker_target,
            _ok_if("markRoomRead"),
        ),
        MEMBERS_ONLY,
    ),
    "Mutation.markDirectMessagesRead": (
        gql(
            "mutation ($user: ID!, $id: ID!) { markDirectMessagesRead(withUser: $user, "
            "messageId: $id) { withUser lastReadId } }",
            _dm_marker_target,
            _ok_if("markDirectMessagesRead"),
        ),
        (U, OK, N, OK),
    ),
    "Subscription.readMarkers": (_markers_subscription, (SUB_ANON, OK, HIDDEN, HIDDEN)),
    "Query.sync": (
        gql(
            f"{{ sync {{ next rooms {{ room {{ id members {USER} }} "
            f"messages {{ {MESSAGE_FIELDS} }} }} directMessages {{ {DM_FIELDS} }} "
            "readMarkers { roomId } } }",
            None,
            lambda w, a, d: has(w.room_id, {int(r["room"]["id"]) for r in d["sync"]["rooms"]}),
        ),
        (U, OK, HIDDEN, HIDDEN),
    ),
    "Query.roomPresence": (
        gql(
            f"query ($room: String!) {{ roomPresence(room: $room) {{ online user {USER} }} }}",
            _room,
            lambda w, a, d: has(w.owner.id, {int(e["user"]["id"]) for e in d["roomPresence"]}),
        ),
        MEMBERS_ONLY,
    ),
    "Mutation.signalTyping": (
        gql(
            "mutation ($room: String!) { signalTyping(room: $room) { expiresAt delivered } }",
            _room,
            _ok_if("signalTyping"),
        ),
        MEMBERS_ONLY,
    ),
    "Mutation.signalDirectTyping": (
        gql(
            "mutation ($user: ID!) { signalDirectTyping(to: $user) { expiresAt delivered } }",
            _peer,
            _ok_if("signalDirectTyping"),
        ),
        SIGNED_IN,
    ),
    "Subscription.presenceChanges": (
        _signal_subscription(f"presenceChanges(room: $room) {{ online user {USER} }}"),
        (SUB_ANON, OK, N, N),
    ),
    "Subscription.typing": (
        _signal_subscription(f"typing(room: $room) {{ expiresAt user {USER} }}"),
        (SUB_ANON, OK, N, N),
    ),
}


# --- REST ------------------------------------------------------------------------------


def rest(
    method: str,
    path: Callable[[World, str], Awaitable[str]] | str,
    success: int,
    judge: Callable[[World, str, httpx.Response], str] | None = None,
    **kwargs: Any,
) -> Probe:
    async def probe(world: World, actor: str) -> str:
        url = path if isinstance(path, str) else await path(world, actor)
        extra = {k: (v(world, actor) if callable(v) else v) for k, v in kwargs.items()}
        response = await world.rest(actor, method, url, **extra)
        if response.status_code != success:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "?"
            return f"{response.status_code} {code}"
        return judge(world, actor, response) if judge else OK

    return probe


def listed(attr: str) -> Callable[[World, str, httpx.Response], str]:
    def judge(world: World, actor: str, response: httpx.Response) -> str:
        wanted = getattr(world, attr)
        return has(wanted, {int(item["id"]) for item in response.json()})

    return judge


def _me_rest(world: World, actor: str, response: httpx.Response) -> str:
    account = world.account(actor)
    return OK if account and response.json()["id"] == account.id else "someone else"


async def _product_path(world: World, actor: str) -> str:
    return f"/products/{world.product_id}"


async def _fresh_product_path(world: World, actor: str) -> str:
    return f"/products/{await world.fresh_product()}"


async def _file_path(world: World, actor: str) -> str:
    return f"/files/{world.file_id}"


async def _fresh_file_path(world: World, actor: str) -> str:
    return f"/files/{await world.fresh_file()}"


async def _room_path(world: World, actor: str) -> str:
    return f"/chat/rooms/{world.room}/messages"


async def _dm_path(world: World, actor: str) -> str:
    return f"/chat/dm/{world.target_user(actor).id}"


async def _message_path(world: World, actor: str) -> str:
    return f"/chat/rooms/{world.room}/messages/{world.message_id}"


async def _fresh_message_path(world: World, actor: str) -> str:
    return f"/chat/rooms/{world.room}/messages/{await world.fresh_message()}"


async def _room_presence_path(world: World, actor: str) -> str:
    return f"/chat/rooms/{world.room}/presence"


async def _room_typing_path(world: World, actor: str) -> str:
    return f"/chat/rooms/{world.room}/typing"


def _then(
    path: Callable[[World, str], Awaitable[str]], suffix: str
) -> Callable[[World, str], Awaitable[str]]:
    async def longer(world: World, actor: str) -> str:
        return await path(world, actor) + suffix

    return longer


def _dm_message_path(fresh: bool) -> Callable[[World, str], Awaitable[str]]:
    async def path(world: World, actor: str) -> str:
        dm_id = await world.fresh_dm() if fresh else world.dm_ids[0]
        # Each party names the conversation by the other party.
        peer = world.owner if actor == "admin" else world.admin
        return f"/chat/dm/{peer.id}/messages/{dm_id}"

    return path


def _token_probe(path: str, success: int) -> Probe:
    async def probe(world: World, actor: str) -> str:
        token = await world.fresh_refresh_token()
        return await rest("POST", path, success, json={"refresh_token": token})(world, actor)

    return probe


RESOURCE_BODY = {"title": "Guide", "kind": "LINK", "url": "https://example.com/guide"}
_resources_get = rest("GET", "/resources", 200, listed("resource_id"))
_resources_post = rest("POST", "/resources", 201, json=RESOURCE_BODY)

REST: Table = {
    "GET /health": (rest("GET", "/health", 200), ALL_OK),
    # Served to METRICS_TOKEN only, which no account's token is.
    "GET /metrics": (rest("GET", "/metrics", 200), (R401, R401, R401, R401)),
    "GET /ready": (rest("GET", "/ready", 200), ALL_OK),
    "POST /login": (
        rest(
            "POST",
            "/login",
            200,
            json=lambda w, a: {"email": w.spare.email, "password": w.spare.password},
        ),
        ALL_OK,
    ),
    "POST /register": (
        rest(
            "POST",
            "/register",
            201,
            json=lambda w, a: {
                "email": f"{unique('new')}@example.com",
                "password": "long enough pw",
            },
        ),
        ALL_OK,
    ),
    "POST /refresh": (_token_probe("/refresh", 200), ALL_OK),
    "POST /logout": (_token_probe("/logout", 204), ALL_OK),
    "GET /me": (rest("GET", "/me", 200, _me_rest), REST_SIGNED_IN),
    "POST /users/{user_id}/deactivate": (
        rest("POST", _fresh_user_path, 204),
        ruled(Action.USER_DEACTIVATE),
    ),
    "GET /products": (rest("GET", "/products", 200, listed("product_id")), ALL_OK),
    "POST /products": (
        rest("POST", "/products", 201, json={"name": "Lamp", "price": 12.5}),
        ruled(Action.PRODUCT_WRITE),
    ),
    "GET /products/{id}": (rest("GET", _product_path, 200), ALL_OK),
    "PATCH /products/{id}": (
        rest("PATCH", _product_path, 200, json={"stock": 7}),
        ruled(Action.PRODUCT_WRITE),
    ),
    "DELETE /products/{id}": (
        rest("DELETE", _fresh_product_path, 204),
        ruled(Action.PRODUCT_WRITE),
    ),
    "GET /files": (rest("GET", "/files", 200, listed("file_id")), LISTED_FILES),
    "POST /files": (
        rest("POST", "/files", 201, files={"file": ("up.txt", b"uploaded", "text/plain")}),
        ruled(Action.FILE_UPLOAD),
    ),
    "GET /files/{id}": (rest("GET", _file_path, 200), ruled(Action.FILE_READ)),
    "DELETE /files/{id}": (rest("DELETE", _fresh_file_path, 204), FILE_DELETE),
    "GET /resources": (_resources_get, ruled(Action.RESOURCE_READ)),
    "POST /resources": (_resources_post, ruled(Action.RESOURCE_CREATE)),
    "GET /ressources": (
        rest("GET", "/ressources", 200, listed("resource_id")),
        ruled(Action.RESOURCE_READ),
    ),
    "POST /ressources": (
        rest("POST", "/ressources", 201, json=RESOURCE_BODY),
        ruled(Action.RESOURCE_CREATE),
    ),
    "GET /chat/rooms": (
        rest("GET", "/chat/rooms", 200, listed("room_id")),
        (R401, OK, HIDDEN, HIDDEN),
    ),
    "POST /chat/rooms": (
        rest(
            "POST",
            "/chat/rooms",
            201,
            json=lambda w, a: {"name": unique("room"), "is_private": True},
        ),
        REST_SIGNED_IN,
    ),
    "GET /chat/rooms/{room}/messages": (
        rest("GET", _room_path, 200, listed("message_id")),
        REST_MEMBERS_ONLY,
    ),
    "POST /chat/rooms/{room}/messages": (
        rest("POST", _room_path, 201, json={"content": "hi"}),
        REST_MEMBERS_ONLY,
    ),
    "GET /chat/dm/{user_id}": (
        rest("GET", _dm_path, 200, listed("dm_ids")),
        (R401, OK, HIDDEN, OK),
    ),
    "POST /chat/dm/{user_id}": (
        rest("POST", _dm_path, 201, json={"content": "hi"}),
        REST_SIGNED_IN,
    ),
    "PATCH /chat/rooms/{room}/messages/{message_id}": (
        rest("PATCH", _message_path, 200, json={"content": "edited"}),
        MEMBERS_EDIT,
    ),
    "DELETE /chat/rooms/{room}/messages/{message_id}": (
        rest("DELETE", _fresh_message_path, 204),
        REST_MEMBERS_ONLY,
    ),
    "PATCH /chat/dm/{user_id}/messages/{message_id}": (
        rest("PATCH", _dm_message_path(False), 200, json={"content": "edited"}),
        (R401, OK, R404, R403),
    ),
    "DELETE /chat/dm/{user_id}/messages/{message_id}": (
        rest("DELETE", _dm_message_path(True), 204),
        (R401, OK, R404, R403),
    ),
    "GET /chat/rooms/{room}/messages/{message_id}/reactions": (
        rest("GET", _then(_message_path, "/reactions"), 200),
        REST_MEMBERS_ONLY,
    ),
    "PUT /chat/rooms/{room}/messages/{message_id}/reactions/{reaction}": (
        rest("PUT", _then(_message_path, "/reactions/%F0%9F%91%8D"), 200),
        REST_MEMBERS_ONLY,
    ),
    "DELETE /chat/rooms/{room}/messages/{message_id}/reactions/{reaction}": (
        rest("DELETE", _then(_message_path, "/reactions/%F0%9F%91%8D"), 204),
        REST_MEMBERS_ONLY,
    ),
    "GET /chat/dm/{user_id}/messages/{message_id}/reactions": (
        rest("GET", _then(_dm_message_path(False), "/reactions"), 200),
        (R401, OK, R404, OK),
    ),
    "PUT /chat/dm/{user_id}/messages/{message_id}/reactions/{reaction}": (
        rest("PUT", _then(_dm_message_path(False), "/reactions/:tada:"), 200),
        (R401, OK, R404, OK),
    ),
    "DELETE /chat/dm/{user_id}/messages/{message_id}/reactions/{reaction}": (
        rest("DELETE", _then(_dm_message_path(False), "/reactions/:tada:"), 204),
        (R401, OK, R404, OK),
    ),
    "PUT /chat/rooms/{room}/read": (
        rest(
            "PUT",
            lambda w, a: _async(f"/chat/rooms/{w.room}/read"),
            200,
            json=lambda w, a: {"message_id": w.message_id},
        ),
        REST_MEMBERS_ONLY,
    ),
    "PUT /chat/dm/{user_id}/read": (
        rest(
            "PUT",
            lambda w, a: _async(f"/chat/dm/{w.target_user(a).id}/read"),
            200,
            json=lambda w, a: {"message_id": w.dm_ids[0]},
        ),
        (R401, OK, R404, OK),
    ),
    "GET /chat/unread": (
        rest(
            "GET",
            "/chat/unread",
            200,
            lambda w, a, r: has(w.room_id, {x["room_id"] for x in r.json()["rooms"]}),
        ),
        (R401, OK, HIDDEN, HIDDEN),
    ),
    "GET /chat/sync": (
        rest(
            "GET",
            "/chat/sync",
            200,
            lambda w, a, r: has(w.room_id, {x["room_id"] for x in r.json()["rooms"]}),
        ),
        (R401, OK, HIDDEN, HIDDEN),
    ),
    "GET /chat/rooms/{room}/presence": (
        rest(
            "GET",
            _room_presence_path,
            200,
            lambda w, a, r: has(w.owner.id, {u["id"] for u in r.json()["users"]}),
        ),
        REST_MEMBERS_ONLY,
    ),
    "POST /chat/rooms/{room}/typing": (
        rest("POST", _room_typing_path, 202),
        REST_MEMBERS_ONLY,
    ),
    "POST /chat/dm/{user_id}/typing": (
        rest("POST", _then(_dm_path, "/typing"), 202),
        REST_SIGNED_IN,
    ),
}
# Public pages, their pinned static files (a Mount), and GraphQL (rows above).
EXCLUDED_PATHS = {"/docs", "/openapi.json", "/graphql", "/static"}


# --- WebSocket -------------------------------------------------------------------------

WsFrame = Callable[[World, str], dict[str, Any]]


def _ws_judge(world: World, reply: dict[str, Any]) -> str:
    kind = reply["type"]
    if kind == "error":
        return str(reply["code"])
    if kind == "room_history":
        return has(world.message_id, {m["id"] for m in reply["messages"]})
    if kind == "dm_history":
        return has(world.dm_ids, {m["id"] for m in reply["messages"]})
    if kind == "sync":
        return has(world.room_id, {r["room_id"] for r in reply["rooms"]})
    if kind == "unread":
        return has(world.room_id, {r["room_id"] for r in reply["rooms"]})
    if kind in {"reactions", "dm_reactions"}:
        return OK if isinstance(reply["reactions"], list) else "no list"
    if kind == "search_results":
        return _search_judge(world, [(r["kind"], r["message"]["id"]) for r in reply["results"]])
    if kind == "read_marker":
        return OK
    if kind == "presence":
        return has(world.owner.id, {u["id"] for u in reply["users"]})
    if kind == "typing_sent":
        return OK if reply["delivered"] in {True, False} else "no receipt"
    return OK if kind in {"joined", "ack", "ready", "user_deactivated", "left"} else f"frame {kind}"


async def _async(value: str) -> str:
    return value


def _ws_fresh(kind: str) -> WsFrame:
    """Frames that destroy: each actor aims at a message made for it (see _ws_matrix)."""
    return lambda w, a: {"type": kind, "id": w.marks[f"{kind} {a}"]}


WS: dict[str, tuple[WsFrame, Expect | Ruled]] = {
    "join": (lambda w, a: {"type": "join", "room": w.room}, MEMBERS_ONLY),
    "message": (
        lambda w, a: {"type": "message", "room": w.room, "content": "hi"},
        MEMBERS_ONLY,
    ),
    "dm": (
        lambda w, a: {"type": "dm", "to": w.target_user(a).id, "content": "hi"},
        (WS_ANON, OK, OK, OK),
    ),
    "room_history": (lambda w, a: {"type": "room_history", "room": w.room}, MEMBERS_ONLY),
    "dm_history": (
        lambda w, a: {"type": "dm_history", "with": w.target_user(a).id},
        (WS_ANON, OK, HIDDEN, OK),
    ),
    "edit": (
        lambda w, a: {"type": "edit", "id": w.message_id, "content": "edited"},
        MEMBERS_ONLY,
    ),
    "delete": (_ws_fresh("delete"), MEMBERS_ONLY),
    "dm_edit": (
        lambda w, a: {"type": "dm_edit", "id": w.dm_ids[0], "content": "edited"},
        (WS_ANON, OK, N, F),
    ),
    "dm_delete": (_ws_fresh("dm_delete"), (WS_ANON, OK, N, F)),
    "react": (
        lambda w, a: {"type": "react", "id": w.message_id, "reaction": "🎉"},
        MEMBERS_ONLY,
    ),
    "unreact": (
        lambda w, a: {"type": "unreact", "id": w.message_id, "reaction": "🎉"},
        MEMBERS_ONLY,
    ),
    "reactions": (lambda w, a: {"type": "reactions", "id": w.message_id}, MEMBERS_ONLY),
    "dm_react": (
        lambda w, a: {"type": "dm_react", "id": w.dm_ids[0], "reaction": ":eyes:"},
        (WS_ANON, OK, N, OK),
    ),
    "dm_unreact": (
        lambda w, a: {"type": "dm_unreact", "id": w.dm_ids[0], "reaction": ":eyes:"},
        (WS_ANON, OK, N, OK),
    ),
    "dm_reactions": (
        lambda w, a: {"type": "dm_reactions", "id": w.dm_ids[0]},
        (WS_ANON, OK, N, OK),
    ),
    "typing": (lambda w, a: {"type": "typing", "room": w.room}, MEMBERS_ONLY),
    "presence": (lambda w, a: {"type": "presence", "room": w.room}, MEMBERS_ONLY),
    # Renewing a connection's token with the owner's: only the owner may.
    "auth": (lambda w, a: {"type": "auth", "token": w.owner.token}, (WS_ANON, OK, F, F)),
    "read": (
        lambda w, a: {"type": "read", "room": w.room, "id": w.message_id},
        MEMBERS_ONLY,
    ),
    "unread": (lambda w, a: {"type": "unread"}, (WS_ANON, OK, HIDDEN, HIDDEN)),
    "sync": (lambda w, a: {"type": "sync"}, (WS_ANON, OK, HIDDEN, HIDDEN)),
    # Last: the spare account is not used after the ADMIN deactivates it.
    "deactivate_user": (
        lambda w, a: {"type": "deactivate_user", "user": w.spare.id},
        ruled(Action.USER_DEACTIVATE),
    ),
}


# --- rows where the permission table decides alone ------------------------------------


async def _owner_email_probe(world: World, actor: str) -> str:
    """The owner's address where each actor meets the owner: in a DM (the
    owner and anonymous: the owner's DMs with the ADMIN)."""
    peer = world.owner if actor in {"other", "admin"} else world.admin
    query = f"""query ($user: ID!) {{ directMessages(withUser: $user)
      {{ edges {{ node {{ fromUser {USER} toUser {USER} }} }} }} }}"""
    body = await world.graphql(actor, query, {"user": str(peer.id)})

    def judge(data: dict[str, Any]) -> str:
        emails = {
            user["email"]
            for edge in data["directMessages"]["edges"]
            for user in (edge["node"]["fromUser"], edge["node"]["toUser"])
            if int(user["id"]) == world.owner.id
        }
        if emails == {world.owner.email}:
            return OK
        return HIDDEN if emails == {""} else f"emails {emails}"

    return gql_outcome(body, judge)


async def _public_room_member(world: World, actor: str) -> dict[str, Any]:
    """A new public room of the owner's, which nobody else has joined."""
    name = unique("open")
    response = await world.http.post(
        "/chat/rooms", json={"name": name}, headers=world.owner.headers
    )
    assert response.status_code == 201, response.text
    return {"room": name, "user": str(world.spare.id)}


GRAPHQL_RULES: Table = {
    "User.email (the owner's)": (_owner_email_probe, ruled((Action.USER_EMAIL_READ, HIDDEN))),
    # Anyone signed in sees a public room; only its members add others.
    "Mutation.addRoomMember (a public room)": (
        gql(
            f"mutation ($room: String!, $user: ID!) {{ addRoomMember(room: $room, "
            f"userId: $user) {{ {ROOM_FIELDS} }} }}",
            _public_room_member,
            _ok_if("addRoomMember"),
        ),
        ruled(Action.ROOM_MEMBER_ADD),
    ),
}


async def _linked_file_path(world: World, actor: str) -> str:
    return f"/files/{await world.fresh_linked_file()}"


async def _public_message_path(world: World, actor: str) -> str:
    return await world.fresh_public_message()


async def _dm_to_caller_path(world: World, actor: str) -> str:
    return await world.fresh_dm_to(actor)


REST_RULES: Table = {
    # Anyone signed in reads a resource's file; its resources go with it
    # only for an ADMIN, and its owner is refused with CONFLICT.
    "DELETE /files/{id} (a resource's file)": (
        rest("DELETE", _linked_file_path, 204),
        ruled(Action.FILE_DELETE, (Action.RESOURCE_DELETE, "CONFLICT")),
    ),
    "DELETE /chat/rooms/{room}/messages/{message_id} (a public room)": (
        rest("DELETE", _public_message_path, 204),
        ruled(Action.MESSAGE_DELETE),
    ),
    "DELETE /chat/dm/{user_id}/messages/{message_id} (sent to the caller)": (
        rest("DELETE", _dm_to_caller_path, 204),
        ruled(Action.DIRECT_MESSAGE_DELETE),
    ),
    "PATCH /chat/rooms/{room}/messages/{message_id} (a public room)": (
        rest("PATCH", _public_message_path, 200, json={"content": "edited"}),
        ruled(Action.MESSAGE_EDIT),
    ),
    "PATCH /chat/dm/{user_id}/messages/{message_id} (sent to the caller)": (
        rest("PATCH", _dm_to_caller_path, 200, json={"content": "edited"}),
        ruled(Action.MESSAGE_EDIT),
    ),
}


# --- search (issue 15): what each actor finds of the owner's private room and DMs ------------

SEARCH_WORD = "zanzibar"


async def _search_seeds(world: World) -> None:
    """Once: the owner's word in their private room and in a DM to the ADMIN."""
    if "search room" in world.marks:
        return
    headers = world.owner.headers
    room_path = f"/chat/rooms/{world.room}/messages"
    response = await world.http.post(room_path, json={"content": SEARCH_WORD}, headers=headers)
    assert response.status_code == 201, response.text
    world.marks["search room"] = response.json()["id"]
    dm_path = f"/chat/dm/{world.admin.id}"
    response = await world.http.post(dm_path, json={"content": SEARCH_WORD}, headers=headers)
    assert response.status_code == 201, response.text
    world.marks["search dm"] = response.json()["id"]


def _search_judge(world: World, found: list[tuple[str, int]]) -> str:
    """ok: the room message and the DM; "dm only"; hidden: neither."""
    room = {i for kind, i in found if kind == "message"}
    dms = {i for kind, i in found if kind == "dm"}
    wanted_room = world.marks.get("search room", world.message_id)
    wanted_dms = {world.marks["search dm"]} if "search dm" in world.marks else set(world.dm_ids)
    got_room, got_dm = wanted_room in room, bool(wanted_dms & dms)
    if got_room and got_dm:
        return OK
    return "dm only" if got_dm else ("room only" if got_room else HIDDEN)


async def _search_variables(world: World, actor: str) -> dict[str, Any]:
    await _search_seeds(world)
    return {"q": SEARCH_WORD}


def _search_gql_judge(world: World, actor: str, data: dict[str, Any]) -> str:
    found = [
        ("message", int(e["node"]["message"]["id"]))
        if e["node"]["message"]
        else ("dm", int(e["node"]["directMessage"]["id"]))
        for e in data["searchMessages"]["edges"]
    ]
    return _search_judge(world, found)


async def _search_path(world: World, actor: str) -> str:
    await _search_seeds(world)
    return f"/chat/search?q={SEARCH_WORD}"


def _search_rest_judge(world: World, actor: str, response: httpx.Response) -> str:
    results = response.json()["results"]
    return _search_judge(world, [(r["kind"], r["message"]["id"]) for r in results])


SEARCH_EXPECT: Expect = (U, OK, HIDDEN, "dm only")
GRAPHQL["Query.searchMessages"] = (
    gql(
        f"query ($q: String!) {{ searchMessages(query: $q) {{ edges {{ node {{ snippet "
        f"message {{ {MESSAGE_FIELDS} }} directMessage {{ {DM_FIELDS} }} }} }} }} }}",
        _search_variables,
        _search_gql_judge,
    ),
    SEARCH_EXPECT,
)
REST["GET /chat/search"] = (
    rest("GET", _search_path, 200, _search_rest_judge),
    (R401, OK, HIDDEN, "dm only"),
)
# The WS frames cannot post first: the word is the one the owner's "edit" and
# "dm_edit" rows (above) put in the world's room message and first DM.
WS["search"] = (
    lambda w, a: {"type": "search", "query": "edited"},
    (WS_ANON, OK, HIDDEN, "dm only"),
)


# --- leaving a room (issue 15): the owner leaves a private room shared with a fresh member ---


async def _shared_private_room(world: World) -> int:
    """A private room of the owner's with a second member (the last member
    of a private room cannot leave it): its id."""
    name = await world.fresh_private_room()
    body = await world.graphql(
        "owner",
        "mutation ($room: String!, $user: ID!) { addRoomMember(room: $room, userId: $user) "
        "{ id } }",
        {"room": name, "user": str(await _fresh_user_id(world, "owner"))},
    )
    assert not body.get("errors"), body
    return int(body["data"]["addRoomMember"]["id"])


async def _leave_variables(world: World, actor: str) -> dict[str, Any]:
    return {"room": str(await _shared_private_room(world))}


async def _leave_path(world: World, actor: str) -> str:
    return f"/chat/rooms/{await _shared_private_room(world)}/members/me"


GRAPHQL["Mutation.leaveRoom"] = (
    gql(
        f"mutation ($room: String!) {{ leaveRoom(room: $room) {{ {ROOM_FIELDS} }} }}",
        _leave_variables,
        _ok_if("leaveRoom"),
    ),
    MEMBERS_ONLY,
)
REST["DELETE /chat/rooms/{room}/members/me"] = (
    rest("DELETE", _leave_path, 200),
    REST_MEMBERS_ONLY,
)


async def _join_path(world: World, actor: str) -> str:
    return f"/chat/rooms/{await world.fresh_private_room()}/members/me"


# Joining the owner's private room: a no-op for its member, NOT_FOUND to others
# (as Mutation.joinRoom and the join frame).
REST["PUT /chat/rooms/{room}/members/me"] = (rest("PUT", _join_path, 200), REST_MEMBERS_ONLY)
# Each actor aims at a room made for it (test_ws_matrix).
WS["leave"] = (lambda w, a: {"type": "leave", "room": w.marks[f"leave {a}"]}, (WS_ANON, OK, N, N))


# --- checks ----------------------------------------------------------------------------


def expected(door: Door, cells: Expect | Ruled) -> Expect:
    return derived(door, cells) if isinstance(cells, Ruled) else cells


def mismatches(
    door: Door, table: dict[str, tuple[Any, Expect | Ruled]], got: dict[tuple[str, str], str]
) -> list[str]:
    lines = []
    for entry, (_probe, cells) in table.items():
        for actor, want in zip(ACTORS, expected(door, cells), strict=True):
            if got[entry, actor] != want:
                lines.append(f"{entry} [{actor}]: expected {want}, got {got[entry, actor]}")
    return lines


@pytest.fixture
async def world(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, roomy: None
) -> World:
    # roomy: the owner posts more probes than one message budget holds (the
    # budget itself is tested with the rate limits, not here).
    return await build_world(service, http, make_account)


# --- every entry has a row --------------------------------------------------------------

ROOT_FIELDS = """
{ __schema {
    queryType { fields { name } }
    mutationType { fields { name } }
    subscriptionType { fields { name } }
} }
"""


async def test_every_graphql_root_field_has_a_row(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": ROOT_FIELDS})
    schema = response.json()["data"]["__schema"]
    served = {
        f"{root}.{f['name']}"
        for root, key in (
            ("Query", "queryType"),
            ("Mutation", "mutationType"),
            ("Subscription", "subscriptionType"),
        )
        for f in schema[key]["fields"]
    }
    assert served - set(GRAPHQL) == set(), "GraphQL fields without an authorization rule"
    assert set(GRAPHQL) - served == set(), "rules for fields the schema no longer serves"


def test_every_rest_route_has_a_row(service: Service) -> None:
    served = {
        f"{method} {route.path}"
        for route in service.app.routes
        if isinstance(route, Route) and route.path not in EXCLUDED_PATHS
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert served - set(REST) == set(), "REST routes without an authorization rule"
    assert set(REST) - served == set(), "rules for routes the app no longer serves"
    mounts = {route.path for route in service.app.routes if isinstance(route, Mount)}
    assert mounts - EXCLUDED_PATHS == set(), "mounted apps without an authorization rule"


def test_every_ws_frame_type_has_a_row() -> None:
    assert set(PARSERS) == set(WS)


# --- every permission is probed, and means what it says ---------------------------------


def test_every_permission_is_probed() -> None:
    tables: list[dict[str, tuple[Any, Expect | Ruled]]] = [
        GRAPHQL,
        REST,
        WS,
        GRAPHQL_RULES,
        REST_RULES,
    ]
    probed = {
        action
        for table in tables
        for _probe, cells in table.values()
        if isinstance(cells, Ruled)
        for action in cells.actions
    }
    assert set(TABLE) - probed == set(), "permissions no row probes"


# What each rule means for the four actors aimed at the owner's thing, said
# once by hand: the derivation of every ruled row rests on it.
RULE_CELLS: dict[Rule, Expect] = {
    Rule.AUTHENTICATED: (U, OK, OK, OK),
    Rule.ADMIN: (U, F, F, OK),
    Rule.OWNER: (U, OK, F, F),
    Rule.OWNER_OR_ADMIN: (U, OK, F, OK),
    Rule.SELF_OR_ADMIN: (U, OK, F, OK),
    Rule.MEMBER: (U, OK, F, F),
}


def test_each_rule_admits_whom_it_says() -> None:
    assert set(RULE_CELLS) == set(Rule)
    for action, entry in TABLE.items():
        assert derived(GRAPHQL_DOOR, ruled((action, F))) == RULE_CELLS[entry.rule], action


# REST writes whose body a refused caller never gets to have read.
REFUSED_FIRST = [
    ("POST", "/products", Action.PRODUCT_WRITE),
    ("PATCH", "/products/not-an-id", Action.PRODUCT_WRITE),
    ("DELETE", "/products/1", Action.PRODUCT_WRITE),
    ("POST", "/resources", Action.RESOURCE_CREATE),
    ("POST", "/ressources", Action.RESOURCE_CREATE),
]


async def test_a_refused_caller_learns_nothing_of_its_input(
    http: httpx.AsyncClient, member: Account
) -> None:
    """The resolver's check comes before the body (or the id) is read: 401
    or the rule's refusal, whatever was sent."""
    for method, path, action in REFUSED_FIRST:
        anonymous, _owner, other, _admin = derived(REST_DOOR, ruled(action))
        for headers, want in (({}, anonymous), (member.headers, other)):
            response = await http.request(
                method,
                path,
                content=b"{not json",
                headers={"Content-Type": "text/plain", **headers},
            )
            got = f"{response.status_code} {response.json()['error']['code']}"
            assert got == want, (method, path, headers)


# --- the matrix ----------------------------------------------------------------------------


async def test_graphql_matrix(world: World) -> None:
    table = {**GRAPHQL, **GRAPHQL_RULES}
    got = {}
    for entry, (probe, _expected) in table.items():
        for actor in ACTORS:
            got[entry, actor] = await probe(world, actor)
    assert mismatches(GRAPHQL_DOOR, table, got) == []
    assert_nothing_leaked(world)


async def test_rest_matrix(world: World) -> None:
    table = {**REST, **REST_RULES}
    got = {}
    for entry, (probe, _expected) in table.items():
        for actor in ACTORS:
            got[entry, actor] = await probe(world, actor)
    assert mismatches(REST_DOOR, table, got) == []
    assert_nothing_leaked(world)


async def test_ws_matrix(world: World) -> None:
    ws_url = world.service.ws_url
    got: dict[tuple[str, str], str] = {}
    for entry in WS:
        status = await handshake_status(ws_url)
        got[entry, "anonymous"] = WS_ANON if status == 401 else f"handshake {status}"
    for actor in ACTORS[1:]:
        world.marks[f"delete {actor}"] = await world.fresh_message()
        world.marks[f"dm_delete {actor}"] = await world.fresh_dm()
        world.marks[f"leave {actor}"] = await _shared_private_room(world)
        account = world.account(actor)
        assert account is not None
        async with chat_client(ws_url, account.token) as ws:
            for entry, (frame, _expected) in WS.items():
                reply = await request(ws, frame(world, actor))
                world.record(actor, str(reply))
                got[entry, actor] = _ws_judge(world, reply)
    assert mismatches(WS_DOOR, WS, got) == []
    assert_nothing_leaked(world)


# --- REGISTRATION=closed (issue 11, finding 12) ------------------------------------------

# The register rows above, with registration closed: refused to every actor
# (an ADMIN too: operators make accounts with `createuser`), on both doors.
CLOSED_REGISTRATION: list[tuple[Door, Table]] = [
    (GRAPHQL_DOOR, {"Mutation.register": (GRAPHQL["Mutation.register"][0], (F, F, F, F))}),
    (REST_DOOR, {"POST /register": (REST["POST /register"][0], (R403, R403, R403, R403))}),
]


async def test_closed_registration_matrix(
    world: World, override_settings: OverrideSettings
) -> None:
    override_settings(registration=Registration.CLOSED)
    for door, table in CLOSED_REGISTRATION:
        got = {
            (entry, actor): await probe(world, actor)
            for entry, (probe, _cells) in table.items()
            for actor in ACTORS
        }
        assert mismatches(door, table, got) == []
    assert_nothing_leaked(world)
