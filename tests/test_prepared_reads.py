"""Listings read through prepared statements (``models/prepared.py``) answer
every page shape as the paging rules say, per room, and see every write at
once: only the SQL text is reused, never rows."""

from __future__ import annotations

import httpx

from tests.conftest import Account, GraphQL, MakeAccount, data_of

PAGE = """query ($first: Int, $after: String, $last: Int, $before: String) {
  products(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id name } }
  }
}"""


async def _create(http: httpx.AsyncClient, admin: Account, name: str) -> int:
    created = await http.post(
        "/products", json={"name": name, "price": "1.25"}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def _rest_ids(http: httpx.AsyncClient, **params: int) -> list[int]:
    response = await http.get("/products", params=params)
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()]


async def _graphql_ids(graphql: GraphQL, **variables: object) -> list[int]:
    edges = data_of(await graphql(PAGE, variables))["products"]["edges"]
    return [int(e["node"]["id"]) for e in edges]


async def test_every_product_page_shape(
    http: httpx.AsyncClient, graphql: GraphQL, admin: Account
) -> None:
    ids = [await _create(http, admin, f"Item {i}") for i in range(6)]
    for limit, offset in [(2, 0), (2, 2), (3, 4), (10, 1), (1, 5), (5, 6)]:
        assert await _rest_ids(http, limit=limit, offset=offset) == ids[offset : offset + limit]
    assert await _rest_ids(http, limit=3) == ids[:3]

    edges = data_of(await graphql(PAGE, {"first": 10}))["products"]["edges"]
    cursors = [e["cursor"] for e in edges]
    assert [int(e["node"]["id"]) for e in edges] == ids
    assert await _graphql_ids(graphql, first=2, after=cursors[1]) == ids[2:4]
    assert await _graphql_ids(graphql, last=2, before=cursors[4]) == ids[2:4]
    assert await _graphql_ids(graphql, first=3, after=cursors[0], before=cursors[4]) == ids[1:4]
    assert await _graphql_ids(graphql, last=2, after=cursors[1]) == ids[4:6]
    assert await _graphql_ids(graphql, last=10) == ids

    # Writes show at once, on both doors.
    renamed = await http.patch(
        f"/products/{ids[0]}", json={"name": "Renamed"}, headers=admin.headers
    )
    assert renamed.status_code == 200
    deleted = await http.delete(f"/products/{ids[1]}", headers=admin.headers)
    assert deleted.status_code == 204
    newest = await _create(http, admin, "Newest")
    listing = (await http.get("/products", params={"limit": 3})).json()
    assert [(p["id"], p["name"]) for p in listing] == [
        (ids[0], "Renamed"),
        (ids[2], "Item 2"),
        (ids[3], "Item 3"),
    ]
    assert await _graphql_ids(graphql, last=1) == [newest]


async def _history(http: httpx.AsyncClient, who: Account, room: str, **params: int) -> list[int]:
    response = await http.get(f"/chat/rooms/{room}/messages", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()]


async def test_every_history_page_shape_per_room(
    http: httpx.AsyncClient, graphql: GraphQL, make_account: MakeAccount
) -> None:
    alice = await make_account(display_name="Alice")
    ids: dict[str, list[int]] = {"prep-a": [], "prep-b": []}
    for room in ids:
        created = await http.post("/chat/rooms", json={"name": room}, headers=alice.headers)
        assert created.status_code == 201
    for i in range(7):
        for room, sent in ids.items():
            posted = await http.post(
                f"/chat/rooms/{room}/messages",
                json={"content": f"{room} {i}"},
                headers=alice.headers,
            )
            assert posted.status_code == 201
            sent.append(posted.json()["id"])
    for room, sent in ids.items():
        assert await _history(http, alice, room) == sent
        assert await _history(http, alice, room, limit=3) == sent[-3:]
        assert await _history(http, alice, room, limit=2, before=sent[3]) == sent[1:3]
        assert await _history(http, alice, room, limit=2, after=sent[2]) == sent[3:5]
        between = await _history(http, alice, room, limit=10, after=sent[1], before=sent[5])
        assert between == sent[2:5]
    # Only the rows that have reactions carry them (the page says which).
    reacted = await http.put(
        f"/chat/rooms/prep-a/messages/{ids['prep-a'][3]}/reactions/:ok:", headers=alice.headers
    )
    assert reacted.status_code in {200, 201}, reacted.text
    page = (await http.get("/chat/rooms/prep-a/messages", headers=alice.headers)).json()
    assert [m["id"] for m in page if "reactions" in m] == [ids["prep-a"][3]]
    assert page[3]["reactions"] == [{"reaction": ":ok:", "count": 1, "me": True}]
    query = """query ($room: String!) { roomMessages(room: $room, last: 2) {
        edges { node { id content author { displayName } } } } }"""
    edges = data_of(await graphql(query, {"room": "prep-b"}, token=alice.token))["roomMessages"]
    assert [e["node"]["content"] for e in edges["edges"]] == ["prep-b 5", "prep-b 6"]
    assert {e["node"]["author"]["displayName"] for e in edges["edges"]} == {"Alice"}
