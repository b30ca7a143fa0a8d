"""The fast completion of plain objects (schema/fast.py) answers exactly as
graphql-core would: aliases, __typename, fragments, @skip/@include, nested
objects, prefetched authors and fields with resolvers mixed in."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Account, GraphQL, MakeAccount, data_of

PRODUCTS = """
query ($withStock: Boolean!) {
  list: products(first: 3) {
    __typename
    edges {
      cursor
      item: node { ...Parts  ref: id  stock @include(if: $withStock)  name @skip(if: true) }
    }
    pageInfo { hasNextPage endCursor }
  }
}
fragment Parts on Product { __typename id label: name price createdAt }
"""


async def test_products_shape(graphql: GraphQL, http: httpx.AsyncClient, admin: Account) -> None:
    for i in range(4):
        created = await http.post(
            "/products", json={"name": f"P{i}", "price": "1.50", "stock": i}, headers=admin.headers
        )
        assert created.status_code == 201
    rest = (await http.get("/products")).json()
    for with_stock in (True, False):
        data = data_of(await graphql(PRODUCTS, {"withStock": with_stock}))["list"]
        assert data["__typename"] == "ProductConnection"
        assert data["pageInfo"]["hasNextPage"] is True
        assert data["pageInfo"]["endCursor"] == data["edges"][-1]["cursor"]
        for edge, row in zip(data["edges"], rest[:3], strict=True):
            expected: dict[str, Any] = {
                "__typename": "Product",
                "id": str(row["id"]),
                "label": row["name"],
                "price": "1.50",
                "createdAt": edge["item"]["createdAt"],
                "ref": str(row["id"]),
            }
            if with_stock:
                expected["stock"] = row["stock"]
            assert edge["item"] == expected
            assert edge["item"]["createdAt"].startswith(row["created_at"][:19])


async def test_chat_page_with_prefetched_authors(
    graphql: GraphQL, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice = await make_account(display_name="Alice")
    bob = await make_account(display_name="Bob")
    room = await http.post("/chat/rooms", json={"name": "fast"}, headers=alice.headers)
    assert room.status_code == 201
    for who in (alice, bob, alice):
        sent = await http.post(
            "/chat/rooms/fast/messages", json={"content": f"hi {who.email}"}, headers=who.headers
        )
        assert sent.status_code == 201
    query = """{ roomMessages(room: "fast") { edges { node {
        content  writer: author { id displayName email }  author { __typename displayName }
    } } } }"""
    edges = data_of(await graphql(query, token=alice.token))["roomMessages"]["edges"]
    names = [e["node"]["writer"]["displayName"] for e in edges]
    assert names == ["Alice", "Bob", "Alice"]
    assert [e["node"]["author"] for e in edges] == [
        {"__typename": "User", "displayName": n} for n in names
    ]
    # ``email`` has a resolver (shown to the user themself only): it still runs.
    emails = [e["node"]["writer"]["email"] for e in edges]
    assert emails == [alice.email, "", alice.email]
    assert edges[1]["node"]["writer"]["id"] == str(bob.id)


async def test_cursors_alike_on_both_paths(
    graphql: GraphQL, http: httpx.AsyncClient, member: Account
) -> None:
    """An edge's cursor is computed (``schema.fast.computed``): the compiled
    completion and graphql-core's (taken when the node has a field with a
    resolver, ``room``) give the same cursors, which page as cursors do."""
    room = await http.post("/chat/rooms", json={"name": "cursors"}, headers=member.headers)
    assert room.status_code == 201
    for i in range(3):
        sent = await http.post(
            "/chat/rooms/cursors/messages", json={"content": f"m{i}"}, headers=member.headers
        )
        assert sent.status_code == 201
    fast = """{ roomMessages(room: "cursors", first: 3) {
        edges { cursor node { id } } pageInfo { startCursor endCursor } } }"""
    slow = """{ roomMessages(room: "cursors", first: 3) {
        edges { cursor node { id room { name } } } } }"""
    fast_page = data_of(await graphql(fast, token=member.token))["roomMessages"]
    slow_edges = data_of(await graphql(slow, token=member.token))["roomMessages"]["edges"]
    cursors = [e["cursor"] for e in fast_page["edges"]]
    assert cursors == [e["cursor"] for e in slow_edges]
    assert len(set(cursors)) == 3
    assert cursors[0] == fast_page["pageInfo"]["startCursor"]
    assert cursors[-1] == fast_page["pageInfo"]["endCursor"]
    after = f"""{{ roomMessages(room: "cursors", first: 5, after: "{cursors[0]}") {{
        edges {{ node {{ id }} }} }} }}"""
    rest = data_of(await graphql(after, token=member.token))["roomMessages"]["edges"]
    assert [e["node"]["id"] for e in rest] == [e["node"]["id"] for e in fast_page["edges"][1:]]


async def test_authors_through_fragments(
    graphql: GraphQL, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """Authors selected through a named or an inline fragment, or with
    ``room`` beside them, answer as when selected directly."""
    alice = await make_account(display_name="Alicia")
    bob = await make_account(display_name="Bobby")
    assert (await http.post("/chat/rooms", json={"name": "frag"}, headers=alice.headers)).is_success
    for who in (alice, bob):
        sent = await http.post(
            "/chat/rooms/frag/messages", json={"content": "x"}, headers=who.headers
        )
        assert sent.status_code == 201
    direct = '{ roomMessages(room: "frag") { edges { node { author { id displayName } } } } }'
    shapes = [
        """{ roomMessages(room: "frag") { ...Page } }
        fragment Page on MessageConnection { edges { node { ...Who } } }
        fragment Who on Message { author { id displayName } }""",
        """{ roomMessages(room: "frag") { edges { node {
            ... on Message { author { id displayName } } } } } }""",
        """{ roomMessages(room: "frag") { edges { node {
            author { id displayName } room { name } } } } }""",
    ]
    expected = data_of(await graphql(direct, token=bob.token))["roomMessages"]["edges"]
    assert [e["node"]["author"]["displayName"] for e in expected] == ["Alicia", "Bobby"]
    for shape in shapes:
        edges = data_of(await graphql(shape, token=bob.token))["roomMessages"]["edges"]
        assert [{"author": e["node"]["author"]} for e in edges] == [e["node"] for e in expected]
        if "room { name }" in shape:
            assert {e["node"]["room"]["name"] for e in edges} == {"frag"}
