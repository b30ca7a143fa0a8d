"""Authorization through GraphQL, queries and subscriptions (security checklist 1-6).

Who may do what, field by field, is the matrix in ``test_authz_matrix.py``;
these follow the checklist's lines further: refusals look like missing ids,
nothing is stored, nothing leaks (``tests/authz_world.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.authz_world import World, assert_nothing_leaked, subscriber
from tests.conftest import error_codes
from tests.helpers import MISSING_ROOM, owner_history


def graphql_errors(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["message"], e["extensions"]["code"]) for e in body.get("errors") or []]


USER = "{ id email displayName role }"


@pytest.mark.checklist(1, "graphql")
async def test_private_room_and_others_dms_are_like_missing_ones_on_graphql(
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


@pytest.mark.checklist(2, "graphql")
async def test_outsiders_cannot_post_or_join_a_private_room_on_graphql(world: World) -> None:
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


@pytest.mark.checklist(3, "graphql")
async def test_members_cannot_write_products_or_resources_on_graphql(world: World) -> None:
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


@pytest.mark.checklist(4, "graphql")
async def test_privileged_fields_in_inputs_are_rejected_on_graphql(world: World) -> None:
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


@pytest.mark.checklist(5, "graphql")
async def test_no_hash_and_no_foreign_email_on_graphql(world: World) -> None:
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


@pytest.mark.checklist(6, "graphql")
async def test_others_files_are_refused_like_missing_ones_on_graphql(world: World) -> None:
    delete = "mutation ($id: ID!) { deleteFile(id: $id) }"
    missing = await world.graphql("other", delete, {"id": str(world.file_id + 1000)})
    body = await world.graphql("other", delete, {"id": str(world.file_id)})
    assert graphql_errors(body) == graphql_errors(missing)
    assert error_codes(body) == ["NOT_FOUND"]
    listing = await world.graphql("other", "{ files { totalCount edges { node { id } } } }")
    assert listing["data"]["files"] == {"totalCount": 0, "edges": []}
    still = await world.rest("owner", "GET", f"/files/{world.file_id}")
    assert still.status_code == 200
