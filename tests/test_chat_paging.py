"""Room creation is rate-limited; ``rooms`` and ``members`` are pages, and the
GraphQL cost model counts them by their real page size (issue 11, finding 2).

The event-loop bound is measured, not timed here: ``python -m bench.worst_query``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core import runtime
from resolvers import limits
from resolvers.limits import MAX_PAGE
from tests.conftest import Account, GraphQL, MakeAccount, OverrideSettings, data_of, error_codes
from tests.harness import Service
from tests.ws_helpers import chat_client, request


@pytest.fixture
def many_rooms(override_settings: OverrideSettings) -> None:
    """Enough room budget to build long lists."""
    override_settings(rooms_per_window=1000)


async def test_room_creation_is_rate_limited_per_user(
    http: httpx.AsyncClient, graphql: GraphQL, service: Service, make_account: MakeAccount
) -> None:
    alice = await make_account("alice@example.com")
    bob = await make_account("bob@example.com")
    budget = runtime.get().settings.rooms_per_window
    for n in range(budget):
        response = await http.post("/chat/rooms", json={"name": f"r{n}"}, headers=alice.headers)
        assert response.status_code == 201, (n, response.text)
    refused = await http.post("/chat/rooms", json={"name": "one-more"}, headers=alice.headers)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert int(refused.headers["retry-after"]) >= 1
    body = await graphql('mutation { createRoom(name: "gql-more") { id } }', token=alice.token)
    assert error_codes(body) == ["RATE_LIMITED"]
    # Probing taken names costs budget too, and other users are not affected.
    assert (
        await http.post("/chat/rooms", json={"name": "r0"}, headers=alice.headers)
    ).status_code == 429
    assert (
        await http.post("/chat/rooms", json={"name": "bobs"}, headers=bob.headers)
    ).status_code == 201


async def _rooms(http: httpx.AsyncClient, owner: Account, count: int) -> list[int]:
    ids = []
    for n in range(count):
        response = await http.post("/chat/rooms", json={"name": f"room-{n}"}, headers=owner.headers)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def test_rooms_are_paged_on_rest_and_graphql(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account, many_rooms: None
) -> None:
    ids = await _rooms(http, member, limits.ROOMS_PAGE_DEFAULT + 5)
    first = (await http.get("/chat/rooms", headers=member.headers)).json()
    assert [r["id"] for r in first] == ids[: limits.ROOMS_PAGE_DEFAULT]
    rest = await http.get(f"/chat/rooms?after={first[-1]['id']}", headers=member.headers)
    assert [r["id"] for r in rest.json()] == ids[limits.ROOMS_PAGE_DEFAULT :]
    small = await http.get(f"/chat/rooms?limit=3&after={ids[1]}", headers=member.headers)
    assert [r["id"] for r in small.json()] == ids[2:5]
    for bad in ("limit=-1", "after=-1", "limit=x"):
        response = await http.get(f"/chat/rooms?{bad}", headers=member.headers)
        assert response.status_code == 422, (bad, response.text)

    default = data_of(await graphql("{ rooms { id } }", token=member.token))["rooms"]
    assert [int(r["id"]) for r in default] == ids[: limits.ROOMS_PAGE_DEFAULT]
    page = await graphql(
        "query($a: ID) { rooms(first: 4, after: $a) { id } }",
        {"a": str(ids[2])},
        token=member.token,
    )
    assert [int(r["id"]) for r in data_of(page)["rooms"]] == ids[3:7]
    huge = data_of(await graphql("{ rooms(first: 100000) { id } }", token=member.token))
    assert len(huge["rooms"]) == min(len(ids), MAX_PAGE)
    assert error_codes(await graphql("{ rooms(first: -1) { id } }", token=member.token)) == [
        "BAD_USER_INPUT"
    ]


async def test_members_are_paged_in_join_order(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account, make_account: MakeAccount
) -> None:
    assert (
        await http.post("/chat/rooms", json={"name": "crowd"}, headers=member.headers)
    ).status_code == 201
    joined = [member.id]
    for n in range(limits.MEMBERS_PAGE_DEFAULT + 3):
        account = await make_account(f"m{n}@example.com")
        response = await http.post(
            "/graphql",
            json={"query": 'mutation { joinRoom(room: "crowd") { id } }'},
            headers=account.headers,
        )
        assert response.status_code == 200
        joined.append(account.id)
    query = 'query($a: ID) { room(room: "crowd") { members(first: 5, after: $a) { id } } }'
    default = await graphql('{ room(room: "crowd") { members { id } } }', token=member.token)
    ids = [int(u["id"]) for u in data_of(default)["room"]["members"]]
    assert ids == joined[: limits.MEMBERS_PAGE_DEFAULT]
    page = await graphql(query, {"a": str(joined[3])}, token=member.token)
    assert [int(u["id"]) for u in data_of(page)["room"]["members"]] == joined[4:9]
    # Through rooms, every room's page in one request.
    listed = data_of(
        await graphql("{ rooms { name members(first: 2) { id } } }", token=member.token)
    )
    assert listed["rooms"] == [
        {"name": "crowd", "members": [{"id": str(joined[0])}, {"id": str(joined[1])}]}
    ]


async def test_the_cost_model_counts_lists_by_their_real_page_size(
    graphql: GraphQL, member: Account, service: Service
) -> None:
    limit = service.settings.graphql_max_cost
    # rooms(first: R) { members(first: M) { id } } costs 1 + R * (1 + M).
    rooms, members = 100, (limit - 1) // 100 - 1
    assert 1 + rooms * (1 + members) <= limit < 1 + rooms * (2 + members)
    fits = f"{{ rooms(first: {rooms}) {{ members(first: {members}) {{ id }} }} }}"
    assert not (await graphql(fits, token=member.token)).get("errors")
    over = f"{{ rooms(first: {rooms}) {{ members(first: {members + 1}) {{ id }} }} }}"
    body = await graphql(over, token=member.token)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["limit"] == "cost"
    # Left out, a page counts as its default size, not as the largest page.
    default_cost = 1 + limits.ROOMS_PAGE_DEFAULT * (1 + MAX_PAGE)
    assert default_cost <= limit < 1 + MAX_PAGE * (1 + MAX_PAGE)
    by_default = f"{{ rooms {{ members(first: {MAX_PAGE}) {{ id }} }} }}"
    assert not (await graphql(by_default, token=member.token)).get("errors")
    # The attack run's query: 15 aliases of rooms { members } no longer passes
    # as cheap (it counted as 10 rooms each).
    aliases = " ".join(f"a{i}: rooms {{ id name members {{ id }} }}" for i in range(15))
    attack_cost = 15 * (1 + limits.ROOMS_PAGE_DEFAULT * (2 + 1 + limits.MEMBERS_PAGE_DEFAULT))
    body = await graphql(f"{{ {aliases} }}", token=member.token)
    if attack_cost > limit:
        assert body["errors"][0]["extensions"]["limit"] == "cost"
    else:
        assert not body.get("errors")


@pytest.fixture
async def long_room(http: httpx.AsyncClient, member: Account, roomy: None) -> str:
    """A public room with 105 messages."""
    assert (
        await http.post("/chat/rooms", json={"name": "long"}, headers=member.headers)
    ).is_success
    for n in range(105):
        posted = await http.post(
            "/chat/rooms/long/messages", json={"content": f"m{n}"}, headers=member.headers
        )
        assert posted.status_code == 201
    return "long"


@pytest.mark.checklist(15, "rest")
async def test_paging_values_are_clamped_or_422_on_rest(
    http: httpx.AsyncClient, member: Account, long_room: str
) -> None:
    history = f"/chat/rooms/{long_room}/messages"
    huge = await http.get(history, params={"limit": 10**9}, headers=member.headers)
    assert huge.status_code == 200
    assert len(huge.json()) == 100
    for path in (history, "/products", "/files", "/resources", "/chat/dm/1"):
        ok = await http.get(path, params={"limit": 10**9}, headers=member.headers)
        assert ok.status_code in {200, 404}, path
        for bad in ("-1", "1.5", "ten", "1e3", str(10**20)):
            for name in ("limit", "offset", "after", "before"):
                response = await http.get(path, params={name: bad}, headers=member.headers)
                if response.status_code == 200:  # a parameter this path does not read
                    continue
                assert response.status_code in {404, 422}, (path, name, bad, response.text)
                assert response.json()["error"]["code"] in {"BAD_USER_INPUT", "NOT_FOUND"}


@pytest.mark.checklist(15, "graphql")
async def test_paging_values_are_clamped_or_bad_input_on_graphql(
    http: httpx.AsyncClient, member: Account, long_room: str
) -> None:
    query = 'query ($n: Int) { roomMessages(room: "long", first: $n) { edges { node { id } } } }'

    async def page(n: Any) -> dict[str, Any]:
        response = await http.post(
            "/graphql", json={"query": query, "variables": {"n": n}}, headers=member.headers
        )
        body: dict[str, Any] = response.json()
        return body

    assert len((await page(10**9))["data"]["roomMessages"]["edges"]) == 100
    for bad in (-1, 1.5, "ten", 10**12):
        assert error_codes(await page(bad)) == ["BAD_USER_INPUT"], bad
    products = await http.post("/graphql", json={"query": "{ products(first: -5) { totalCount } }"})
    assert error_codes(products.json()) == ["BAD_USER_INPUT"]
    huge = await http.post(
        "/graphql", json={"query": "{ products(first: 1000000000) { totalCount } }"}
    )
    assert huge.json() == {"data": {"products": {"totalCount": 0}}}


@pytest.mark.checklist(15, "ws")
async def test_paging_values_are_clamped_or_bad_input_on_ws(
    service: Service, member: Account, long_room: str
) -> None:
    async with chat_client(service.ws_url, member.token) as ws:
        frame = {"type": "room_history", "room": long_room}
        assert len((await request(ws, {**frame, "limit": 10**9}))["messages"]) == 100
        # A negative limit is the resolvers' BAD_USER_INPUT, as on REST (issue 9).
        negative = await request(ws, {**frame, "limit": -5})
        assert (negative["code"], negative["field"]) == ("BAD_USER_INPUT", "limit")
        for bad in ("ten", 1.5, [1], True):
            reply = await request(ws, {**frame, "limit": bad})
            assert reply["code"] == "BAD_USER_INPUT", bad
        for bad in (-1, 10**12):
            reply = await request(ws, {**frame, "before": bad})
            assert reply["code"] == "BAD_USER_INPUT", bad
