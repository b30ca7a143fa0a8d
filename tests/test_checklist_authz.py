"""Security checklist 1-6 (authorization: API1, API3, API5), door by door.

The full matrix of who may do what is ``test_authz_matrix.py``; these are
the checklist's lines, each on every door it applies to.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.authz_world import World, assert_nothing_leaked, build_world, subscriber
from tests.conftest import MakeAccount, error_codes
from tests.harness import Service
from tests.ws_helpers import chat_client, recv, request, send, silence

MISSING_ROOM = "no-such-room"


@pytest.fixture
async def world(service: Service, http: httpx.AsyncClient, make_account: MakeAccount) -> World:
    return await build_world(service, http, make_account)


def without_ref(frame: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in frame.items() if k != "ref"}


def graphql_errors(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["message"], e["extensions"]["code"]) for e in body.get("errors") or []]


async def owner_history(world: World) -> list[int]:
    response = await world.http.get(
        f"/chat/rooms/{world.room}/messages", headers=world.owner.headers
    )
    assert response.status_code == 200
    return [m["id"] for m in response.json()]


# --- 1. someone else's DMs and private rooms ------------------------------------------


async def test_01_private_room_and_others_dms_are_like_missing_ones_on_rest(world: World) -> None:
    missing = await world.rest("other", "GET", f"/chat/rooms/{MISSING_ROOM}/messages")
    for ref in (world.room, world.room_id):
        response = await world.rest("other", "GET", f"/chat/rooms/{ref}/messages")
        assert (response.status_code, response.json()) == (404, missing.json())
    for peer in (world.owner, world.admin):
        response = await world.rest("other", "GET", f"/chat/dm/{peer.id}")
        assert response.status_code == 200
        assert not {m["id"] for m in response.json()} & set(world.dm_ids)
    assert_nothing_leaked(world)


async def test_01_private_room_and_others_dms_are_like_missing_ones_on_graphql(
    world: World,
) -> None:
    history = "query ($r: String!) { roomMessages(room: $r) { edges { node { id } } } }"
    missing = await world.graphql("admin", history, {"r": MISSING_ROOM})
    for ref in (world.room, str(world.room_id)):
        body = await world.graphql("admin", history, {"r": ref})
        assert graphql_errors(body) == graphql_errors(missing) != []
        assert body.get("data") == missing.get("data")
    room = "query ($r: String!) { room(room: $r) { id } }"
    assert (await world.graphql("other", room, {"r": world.room})) == {"data": {"room": None}}
    dms = "query ($u: ID!) { directMessages(withUser: $u) { edges { node { id } } } }"
    for peer in (world.owner, world.admin):
        body = await world.graphql("other", dms, {"u": str(peer.id)})
        got = {int(e["node"]["id"]) for e in body["data"]["directMessages"]["edges"]}
        assert not got & set(world.dm_ids)
    async with subscriber(world.service) as client:
        await client.send(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {world.other.token}"}}
        )
        assert (await client.receive())["type"] == "connection_ack"
        query = "subscription ($r: String!) { roomMessages(room: $r, after: 0) { id } }"
        codes = []
        for n, ref in enumerate((world.room, MISSING_ROOM)):
            await client.send(
                {
                    "id": str(n),
                    "type": "subscribe",
                    "payload": {"query": query, "variables": {"r": ref}},
                }
            )
            reply = await client.receive()
            assert reply["type"] == "error", reply
            codes.append([(e["message"], e["extensions"]["code"]) for e in reply["payload"]])
        assert codes[0] == codes[1]
        assert codes[0][0][1] == "NOT_FOUND"


async def test_01_private_room_and_others_dms_are_like_missing_ones_on_ws(world: World) -> None:
    async with chat_client(world.service.ws_url, world.other.token) as ws:
        missing = without_ref(await request(ws, {"type": "room_history", "room": MISSING_ROOM}))
        assert missing["code"] == "NOT_FOUND"
        for ref in (world.room, world.room_id):
            reply = await request(ws, {"type": "room_history", "room": ref})
            assert without_ref(reply) == missing
        for peer in (world.owner, world.admin):
            reply = await request(ws, {"type": "dm_history", "with": peer.id})
            assert reply["type"] == "dm_history"
            assert not {m["id"] for m in reply["messages"]} & set(world.dm_ids)


# --- 2. posting to or joining a private room one is not in ------------------------------


async def test_02_outsiders_cannot_post_or_join_a_private_room_on_rest(world: World) -> None:
    response = await world.rest(
        "other", "POST", f"/chat/rooms/{world.room}/messages", json={"content": "let me in"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert await owner_history(world) == [world.message_id]
    rooms = await world.rest("other", "GET", "/chat/rooms")
    assert world.room_id not in {r["id"] for r in rooms.json()}


async def test_02_outsiders_cannot_post_or_join_a_private_room_on_graphql(world: World) -> None:
    operations = {
        'mutation ($r: String!) { sendMessage(room: $r, content: "x") { id } }': {},
        "mutation ($r: String!) { joinRoom(room: $r) { id } }": {},
        "mutation ($r: String!, $u: ID!) { addRoomMember(room: $r, userId: $u) { id } }": {
            "u": str(world.other.id)
        },
    }
    for query, extra in operations.items():
        body = await world.graphql("other", query, {"r": world.room, **extra})
        assert error_codes(body) == ["NOT_FOUND"], query
    assert await owner_history(world) == [world.message_id]
    members = await world.graphql(
        "owner", "query ($r: String!) { room(room: $r) { members { id } } }", {"r": world.room}
    )
    assert [m["id"] for m in members["data"]["room"]["members"]] == [str(world.owner.id)]


async def test_02_outsiders_cannot_post_or_join_a_private_room_on_ws(world: World) -> None:
    async with chat_client(world.service.ws_url, world.other.token) as ws:
        for frame in (
            {"type": "join", "room": world.room},
            {"type": "join", "room": world.room_id, "after": 0},
            {"type": "message", "room": world.room, "content": "let me in"},
        ):
            assert (await request(ws, frame))["code"] == "NOT_FOUND"
        # a refused join subscribes to nothing
        posted = await world.http.post(
            f"/chat/rooms/{world.room}/messages",
            json={"content": "members only"},
            headers=world.owner.headers,
        )
        assert posted.status_code == 201
        await silence(ws)
    assert len(await owner_history(world)) == 2


# --- 3. MEMBERs writing products or resources --------------------------------------------


async def test_03_members_cannot_write_products_or_resources_on_rest(world: World) -> None:
    attempts = [
        ("POST", "/products", {"name": "Free", "price": 0}),
        ("PATCH", f"/products/{world.product_id}", {"price": 0}),
        ("DELETE", f"/products/{world.product_id}", None),
        ("POST", "/resources", {"title": "Mine", "kind": "LINK", "url": "https://example.com"}),
        ("POST", "/ressources", {"title": "Mine", "kind": "LINK", "url": "https://example.com"}),
    ]
    for method, path, body in attempts:
        response = await world.rest("owner", method, path, json=body)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "FORBIDDEN"
    products = (await world.http.get("/products")).json()
    assert [(p["id"], p["price"]) for p in products] == [(world.product_id, 9.99)]
    resources = (await world.rest("owner", "GET", "/resources")).json()
    assert [r["id"] for r in resources] == [world.resource_id]


async def test_03_members_cannot_write_products_or_resources_on_graphql(world: World) -> None:
    pid = world.product_id
    for mutation in (
        'createProduct(input: {name: "Free", price: "0"}) { id }',
        f'updateProduct(id: "{pid}", input: {{price: "0"}}) {{ id }}',
        f'deleteProduct(id: "{pid}")',
        'createResource(input: {title: "Mine", kind: LINK, url: "https://example.com"}) { id }',
    ):
        body = await world.graphql("other", f"mutation {{ {mutation} }}")
        assert error_codes(body) == ["FORBIDDEN"], mutation
    products = await world.graphql("other", "{ products { edges { node { id price } } } }")
    nodes = [e["node"] for e in products["data"]["products"]["edges"]]
    assert nodes == [{"id": str(pid), "price": "9.99"}]


# --- 4. no mass assignment ---------------------------------------------------------------


async def test_04_privileged_fields_in_bodies_are_ignored_on_rest(world: World) -> None:
    response = await world.rest(
        "anonymous",
        "POST",
        "/register",
        json={
            "email": "climber@example.com",
            "password": "long enough pw",
            "role": "ADMIN",
            "is_admin": True,
            "id": 1,
        },
    )
    assert response.status_code == 201
    me = await world.http.get(
        "/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["role"] == "MEMBER"
    assert me.json()["id"] != 1
    sent = await world.rest(
        "other",
        "POST",
        "/chat/dm/" + str(world.owner.id),
        json={"content": "hi", "id": 1, "from_user": world.admin.id, "owner_id": world.admin.id},
    )
    assert sent.status_code == 201
    assert sent.json()["from_user"] == world.other.id
    assert sent.json()["id"] != 1
    room = await world.rest(
        "other", "POST", "/chat/rooms", json={"name": "mine", "id": world.room_id}
    )
    assert room.status_code == 201
    assert room.json()["id"] != world.room_id
    upload = await world.rest(
        "other",
        "POST",
        "/files",
        data={"owner_id": str(world.owner.id), "id": str(world.file_id)},
        files={"file": ("a.txt", b"a", "text/plain")},
    )
    assert upload.status_code == 201
    assert upload.json()["owner_id"] == world.other.id
    assert upload.json()["id"] != world.file_id
    product = await world.rest(
        "admin", "POST", "/products", json={"name": "P", "price": 1, "id": world.product_id}
    )
    assert product.status_code == 201
    assert product.json()["id"] != world.product_id


async def test_04_privileged_fields_in_inputs_are_rejected_on_graphql(world: World) -> None:
    register = (
        'mutation { register(input: {email: "climber@example.com", password: "long enough pw", '
        "role: ADMIN}) { user { role } } }"
    )
    body = await world.graphql("anonymous", register)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    login = await world.http.post(
        "/login", json={"email": "climber@example.com", "password": "long enough pw"}
    )
    assert login.status_code == 401
    body = await world.graphql(
        "admin",
        f'mutation {{ createProduct(input: {{id: "{world.product_id}", name: "P", '
        'price: "1"}) { id } }',
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_04_author_fields_in_frames_are_ignored_on_ws(world: World) -> None:
    async with chat_client(world.service.ws_url, world.owner.token) as ws:
        await request(ws, {"type": "join", "room": world.room})
        ack = await request(
            ws,
            {
                "type": "message",
                "room": world.room,
                "content": "mine",
                "from_user": world.admin.id,
                "id": world.message_id,
                "author_id": world.admin.id,
            },
        )
        assert ack["type"] == "ack"
        assert ack["id"] != world.message_id
        live = await recv(ws)
        assert live["from_user"] == world.owner.id
        dm_ack = await request(
            ws, {"type": "dm", "to": world.admin.id, "content": "x", "from_user": world.other.id}
        )
        assert dm_ack["type"] == "ack"
        dm = await recv(ws)
        assert (dm["from_user"], dm["to_user"]) == (world.owner.id, world.admin.id)


# --- 5. no hashes, no other's email -----------------------------------------------------

USER = "{ id email displayName role }"


async def test_05_no_hash_and_no_foreign_email_on_rest(world: World) -> None:
    for actor in ("owner", "other", "anonymous"):
        for path in (
            "/me",
            "/files",
            "/chat/rooms",
            f"/chat/dm/{world.owner.id}",
            f"/chat/dm/{world.admin.id}",
            f"/chat/rooms/{world.room}/messages",
            "/resources",
            "/products",
        ):
            await world.rest(actor, "GET", path)
    me = await world.rest("owner", "GET", "/me")
    assert set(me.json()) == {"id", "email", "display_name", "role", "created_at"}
    assert me.json()["email"] == world.owner.email
    assert_nothing_leaked(world)


async def test_05_no_hash_and_no_foreign_email_on_graphql(world: World) -> None:
    # One root field per request: together they are over GRAPHQL_MAX_COST.
    fields = [
        f"me {USER}",
        f"files {{ edges {{ node {{ owner {USER} }} }} }}",
        f"rooms {{ createdBy {USER} members {USER} }}",
        f"roomMessages(room: $r) {{ edges {{ node {{ author {USER} "
        f"room {{ members {USER} }} }} }} }}",
        f"directMessages(withUser: $u) {{ edges {{ node {{ fromUser {USER} toUser {USER} }} }} }}",
    ]
    for field in fields:
        declared = [d for d in ("$r: String!", "$u: ID!") if d.split(":")[0] in field]
        query = f"query ({', '.join(declared)}) {{ {field} }}" if declared else f"{{ {field} }}"
        mine = {"r": world.room, "u": str(world.admin.id)}
        body = await world.graphql(
            "owner", query, {k: v for k, v in mine.items() if f"${k}" in field}
        )
        assert body.get("data"), body
        if field.startswith("directMessages"):
            edges = body["data"]["directMessages"]["edges"]
            assert {e["node"]["fromUser"]["email"] for e in edges} == {world.owner.email, ""}
        theirs = {"r": world.room, "u": str(world.owner.id)}
        await world.graphql("other", query, {k: v for k, v in theirs.items() if f"${k}" in field})
    dms = (
        "query ($u: ID!) { directMessages(withUser: $u) "
        f"{{ edges {{ node {{ fromUser {USER} toUser {USER} }} }} }} }}"
    )
    admin_view = await world.graphql("admin", dms, {"u": str(world.owner.id)})
    edges = admin_view["data"]["directMessages"]["edges"]
    assert {e["node"]["toUser"]["email"] for e in edges} == {world.owner.email, world.admin.email}
    assert_nothing_leaked(world)


async def test_05_no_hash_and_no_foreign_email_on_ws(world: World) -> None:
    async with chat_client(world.service.ws_url, world.other.token) as ws:
        await send(ws, {"type": "join", "room": "lobby"})
        for frame in (
            {"type": "dm_history", "with": world.owner.id},
            {"type": "dm", "to": world.owner.id, "content": "hello"},
            {"type": "room_history", "room": world.room},
        ):
            world.record("other", str(await request(ws, frame)))
    assert_nothing_leaked(world)


# --- 6. files: IDOR -------------------------------------------------------------------


async def test_06_others_files_are_refused_like_missing_ones_on_rest(world: World) -> None:
    missing_id = world.file_id + 1000
    for method in ("GET", "DELETE"):
        missing = await world.rest("other", method, f"/files/{missing_id}")
        response = await world.rest("other", method, f"/files/{world.file_id}")
        assert (response.status_code, response.json()) == (404, missing.json())
        assert response.headers.get("content-disposition") is None
    listing = await world.rest("other", "GET", "/files")
    assert listing.json() == []
    download = await world.rest("owner", "GET", f"/files/{world.file_id}")
    assert download.content == b"the owner's bytes"


async def test_06_others_files_are_refused_like_missing_ones_on_graphql(world: World) -> None:
    delete = "mutation ($id: ID!) { deleteFile(id: $id) }"
    missing = await world.graphql("other", delete, {"id": str(world.file_id + 1000)})
    body = await world.graphql("other", delete, {"id": str(world.file_id)})
    assert graphql_errors(body) == graphql_errors(missing)
    assert error_codes(body) == ["NOT_FOUND"]
    listing = await world.graphql("other", "{ files { totalCount edges { node { id } } } }")
    assert listing["data"]["files"] == {"totalCount": 0, "edges": []}
    still = await world.rest("owner", "GET", f"/files/{world.file_id}")
    assert still.status_code == 200
