"""Full-text search on every door (issue 15): who finds what, edits and
deletions, filters, ranking, keyset pages, snippets and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from resolvers import limits
from tests.conftest import Account, GraphQL, MakeAccount, data_of, error_codes
from tests.harness import Service
from tests.helpers import make_room, rest_post
from tests.ws_helpers import chat_client, request

SEARCH = """
query ($q: String!, $room: String, $author: ID, $from: DateTime, $to: DateTime,
       $first: Int, $after: String) {
  searchMessages(query: $q, room: $room, author: $author, from: $from, to: $to,
                 first: $first, after: $after) {
    edges {
      cursor
      node {
        snippet
        message { id content author { id } room { id name } }
        directMessage { id content fromUser { id } toUser { id } }
      }
    }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


@pytest.fixture(autouse=True)
def _budget(roomy: None) -> None:
    """Every test here posts more than the default message budget allows."""


def hit_ids(connection: dict[str, Any]) -> list[tuple[str, int]]:
    """(kind, id) of each hit of a GraphQL page, in order."""
    found = []
    for edge in connection["edges"]:
        node = edge["node"]
        if node["message"]:
            found.append(("message", int(node["message"]["id"])))
        else:
            found.append(("dm", int(node["directMessage"]["id"])))
    return found


async def gql_search(graphql: GraphQL, who: Account, q: str, **more: Any) -> dict[str, Any]:
    data = data_of(await graphql(SEARCH, {"q": q, **more}, token=who.token))
    connection: dict[str, Any] = data["searchMessages"]
    return connection


async def rest_search(http: httpx.AsyncClient, who: Account, **params: Any) -> httpx.Response:
    return await http.get("/chat/search", params=params, headers=who.headers)


async def send_dm(http: httpx.AsyncClient, sender: Account, to: Account, content: str) -> int:
    response = await http.post(
        f"/chat/dm/{to.id}", json={"content": content}, headers=sender.headers
    )
    assert response.status_code == 201, response.text
    dm_id: int = response.json()["id"]
    return dm_id


async def test_every_door_finds_what_the_caller_may_read_with_a_marked_snippet(
    service: Service, http: httpx.AsyncClient, graphql: GraphQL, make_account: MakeAccount
) -> None:
    # Given a public room, a private room of alice's, and DMs
    alice, bob, carol = [await make_account() for _ in range(3)]
    await make_room(http, alice, "plaza")
    await make_room(http, alice, "vault", private=True)
    public = await rest_post(http, alice, "plaza", "The <b>zephyr</b> & friends arrive")
    private = await rest_post(http, alice, "vault", "zephyr in the vault")
    dm_ab = await send_dm(http, alice, bob, "a zephyr for bob")
    dm_bc = await send_dm(http, bob, carol, "a zephyr between bob and carol")

    # When each reads through GraphQL
    found = {
        name: set(hit_ids(await gql_search(graphql, who, "Zephyr")))
        for name, who in (("alice", alice), ("bob", bob), ("carol", carol))
    }
    # Then each finds exactly what history shows them
    assert found["alice"] == {("message", public), ("message", private), ("dm", dm_ab)}
    assert found["bob"] == {("message", public), ("dm", dm_ab), ("dm", dm_bc)}
    assert found["carol"] == {("message", public), ("dm", dm_bc)}

    # The snippet marks the word and escapes the rest, on every door alike
    page = await gql_search(graphql, carol, "zephyr", room="plaza")
    snippet = page["edges"][0]["node"]["snippet"]
    assert snippet == "The &lt;b&gt;<mark>zephyr</mark>&lt;/b&gt; &amp; friends arrive"
    response = await rest_search(http, carol, q="zephyr", room="plaza")
    assert response.status_code == 200, response.text
    (item,) = response.json()["results"]
    assert item["kind"] == "message"
    assert item["snippet"] == snippet
    assert item["message"]["id"] == public
    assert item["message"]["content"] == "The <b>zephyr</b> & friends arrive"
    assert response.json()["next_after"] is None
    async with chat_client(service.ws_url, carol.token) as ws:
        reply = await request(ws, {"type": "search", "query": "zephyr"})
    assert reply["type"] == "search_results"
    assert {(r["kind"], r["message"]["id"]) for r in reply["results"]} == {
        ("message", public),
        ("dm", dm_bc),
    }
    by_kind = {r["kind"]: r for r in reply["results"]}
    assert by_kind["dm"]["snippet"] == "a <mark>zephyr</mark> between bob and carol"
    assert by_kind["dm"]["message"]["to_user"] == carol.id


async def test_a_private_room_is_not_found_by_outsiders_even_by_name(
    service: Service, http: httpx.AsyncClient, graphql: GraphQL, make_account: MakeAccount
) -> None:
    owner, outsider = await make_account(), await make_account()
    await make_room(http, owner, "secret", private=True)
    await rest_post(http, owner, "secret", "quasar launch codes")
    assert hit_ids(await gql_search(graphql, outsider, "quasar")) == []
    body = await graphql(SEARCH, {"q": "quasar", "room": "secret"}, token=outsider.token)
    assert error_codes(body) == ["NOT_FOUND"]
    response = await rest_search(http, outsider, q="quasar", room="secret")
    assert response.status_code == 404
    async with chat_client(service.ws_url, outsider.token) as ws:
        reply = await request(ws, {"type": "search", "query": "quasar", "room": "secret"})
        assert reply["code"] == "NOT_FOUND"
        reply = await request(ws, {"type": "search", "query": "quasar launch"})
        assert reply["results"] == []
    # Anonymous callers find nothing at all
    assert error_codes(await graphql(SEARCH, {"q": "quasar"})) == ["UNAUTHENTICATED"]
    assert (await http.get("/chat/search", params={"q": "quasar"})).status_code == 401


async def test_an_edit_is_found_by_its_new_words_and_a_deletion_never(
    http: httpx.AsyncClient, graphql: GraphQL, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "lobby")
    edited = await rest_post(http, alice, "lobby", "meet at the obelisk")
    deleted = await rest_post(http, alice, "lobby", "obelisk photos")
    dm = await send_dm(http, alice, bob, "obelisk in private")
    base = "/chat/rooms/lobby/messages"
    response = await http.patch(
        f"{base}/{edited}", json={"content": "meet at the fountain"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    assert (await http.delete(f"{base}/{deleted}", headers=alice.headers)).status_code == 204
    response = await http.patch(
        f"/chat/dm/{bob.id}/messages/{dm}", json={"content": "fountain"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text

    assert hit_ids(await gql_search(graphql, bob, "obelisk")) == []
    found = set(hit_ids(await gql_search(graphql, bob, "fountain")))
    assert found == {("message", edited), ("dm", dm)}
    # A deleted DM is gone too
    assert (await http.delete(f"/chat/dm/{bob.id}/messages/{dm}", headers=alice.headers)).is_success
    assert hit_ids(await gql_search(graphql, bob, "fountain")) == [("message", edited)]


async def test_filters_by_room_author_and_time(
    http: httpx.AsyncClient, graphql: GraphQL, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "north")
    await make_room(http, alice, "south")
    a_north = await rest_post(http, alice, "north", "walrus sighting")
    b_north = await rest_post(http, bob, "north", "walrus again")
    a_south = await rest_post(http, alice, "south", "a walrus here too")
    dm = await send_dm(http, bob, alice, "walrus by DM")

    in_north = await gql_search(graphql, alice, "walrus", room="north")
    assert set(hit_ids(in_north)) == {("message", a_north), ("message", b_north)}
    by_bob = await gql_search(graphql, alice, "walrus", author=str(bob.id))
    assert set(hit_ids(by_bob)) == {("message", b_north), ("dm", dm)}
    response = await rest_search(http, alice, q="walrus", author=alice.id, room="south")
    assert [r["message"]["id"] for r in response.json()["results"]] == [a_south]

    now = datetime.now(UTC)
    later = (now + timedelta(hours=1)).isoformat()
    earlier = (now - timedelta(hours=1)).isoformat()
    assert hit_ids(await gql_search(graphql, alice, "walrus", **{"from": later})) == []
    assert len(hit_ids(await gql_search(graphql, alice, "walrus", **{"from": earlier}))) == 4
    assert hit_ids(await gql_search(graphql, alice, "walrus", to=earlier)) == []
    response = await rest_search(http, alice, q="walrus", to=later, **{"from": earlier})
    assert len(response.json()["results"]) == 4
    response = await rest_search(http, alice, q="walrus", to=earlier[:10])  # a date alone
    assert response.status_code == 200
    assert response.json()["results"] == []


async def test_phrases_ranking_and_stable_keyset_pages(
    service: Service, http: httpx.AsyncClient, graphql: GraphQL, make_account: MakeAccount
) -> None:
    alice = await make_account()
    await make_room(http, alice, "orchard")
    best = await rest_post(http, alice, "orchard", "apple apple apple")
    others = [
        await rest_post(http, alice, "orchard", f"one apple among {n} other words here")
        for n in range(7)
    ]
    phrase = await rest_post(http, alice, "orchard", "green apple pie")
    await rest_post(http, alice, "orchard", "apple green")  # not the phrase

    page = await gql_search(graphql, alice, "apple", first=1)
    assert hit_ids(page) == [("message", best)]
    assert page["pageInfo"]["hasNextPage"] is True

    # Pages of 3 walk every hit once, in rank order, on GraphQL, REST and WS alike
    walked: list[int] = []
    after = None
    while True:
        page = await gql_search(graphql, alice, "apple", first=3, after=after)
        walked += [i for _, i in hit_ids(page)]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(walked) == sorted([best, *others, phrase, phrase + 1])
    assert walked[0] == best
    rest_walk: list[int] = []
    params: dict[str, Any] = {"q": "apple", "limit": 4}
    while True:
        body = (await rest_search(http, alice, **params)).json()
        rest_walk += [r["message"]["id"] for r in body["results"]]
        if body["next_after"] is None:
            break
        params["after"] = body["next_after"]
    assert rest_walk == walked
    ws_walk: list[int] = []
    async with chat_client(service.ws_url, alice.token) as ws:
        frame: dict[str, Any] = {"type": "search", "query": "apple", "limit": 5}
        while True:
            reply = await request(ws, dict(frame))
            ws_walk += [r["message"]["id"] for r in reply["results"]]
            if reply["next_after"] is None:
                break
            frame["after"] = reply["next_after"]
    assert ws_walk == walked

    quoted = await gql_search(graphql, alice, '"green apple"')
    assert hit_ids(quoted) == [("message", phrase)]
    assert quoted["edges"][0]["node"]["snippet"] == "<mark>green</mark> <mark>apple</mark> pie"
    loose = set(hit_ids(await gql_search(graphql, alice, "green apple")))
    assert loose == {("message", phrase), ("message", phrase + 1)}


LONG = " ".join(f"w{i}" for i in range(20))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": ""}, "query"),
        ({"q": "   "}, "query"),
        ({"q": "?!* -- ()"}, "query"),
        ({"q": "x" * 201}, "query"),
        ({"q": LONG}, "query"),
        ({"q": "ok", "after": "not-a-cursor"}, "after"),
        ({"q": "ok", "after": "czpuYW46MDox"}, "after"),
        ({"q": "ok", "from": "yesterday"}, "from"),
        ({"q": "ok", "to": "0001-01-01T00:00:00+01:00"}, "to"),
        ({"q": "ok", "from": "2026-02-02", "to": "2026-01-01"}, "from"),
        ({"q": "ok", "limit": -1}, "limit"),
        ({"q": "ok", "author": "bob"}, "author"),
    ],
)
async def test_bad_input_is_422_with_the_field(
    http: httpx.AsyncClient, member: Account, params: dict[str, Any], field: str
) -> None:
    response = await rest_search(http, member, **params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "BAD_USER_INPUT"
    assert error.get("field") in {field, "first"}


@pytest.mark.parametrize(
    "q",
    [
        'NEAR(a b) OR c* AND -d "e',
        "col:value ^start",
        "a' OR 1=1 --",
        '"""',
        "!!! foo & bar | baz",
        "日本語 テスト",
        "v3.14 bob@example.com x_y foo-bar",
    ],
)
async def test_query_syntax_of_the_engines_is_just_words(
    service: Service,
    http: httpx.AsyncClient,
    graphql: GraphQL,
    member: Account,
    q: str,
) -> None:
    """FTS5 and tsquery operators in the input are words or separators, never syntax."""
    await make_room(http, member, "syntax")
    await rest_post(http, member, "syntax", q)
    response = await rest_search(http, member, q=q)
    if response.status_code == 422:  # no word at all
        assert response.json()["error"]["field"] == "query"
        return
    assert response.status_code == 200, response.text
    assert len(response.json()["results"]) == 1
    assert len(hit_ids(await gql_search(graphql, member, q))) == 1


async def test_bad_input_on_graphql_and_ws(
    service: Service, graphql: GraphQL, member: Account
) -> None:
    for variables in ({"q": ""}, {"q": "ok", "first": -1}, {"q": "ok", "after": "zz"}):
        body = await graphql(SEARCH, variables, token=member.token)
        assert error_codes(body) == ["BAD_USER_INPUT"], body
    async with chat_client(service.ws_url, member.token) as ws:
        for frame in (
            {"type": "search"},
            {"type": "search", "query": 5},
            {"type": "search", "query": "ok", "limit": "ten"},
            {"type": "search", "query": "ok", "after": "%%%"},
            {"type": "search", "query": "ok", "from": "soon"},
            {"type": "search", "query": "*"},
        ):
            reply = await request(ws, frame)
            assert reply["type"] == "error", reply
            assert reply["code"] == "BAD_USER_INPUT"
        # The connection is still open and searching
        reply = await request(ws, {"type": "search", "query": "ok"})
        assert reply["type"] == "search_results"


async def test_ranking_reads_the_newest_matches_and_from_to_reach_older_ones(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "SEARCH_SCAN_MAX", 3)
    await make_room(http, member, "archive")
    old = await rest_post(http, member, "archive", "kiwi kiwi kiwi kiwi")  # the best match
    newer = [await rest_post(http, member, "archive", f"kiwi number {n}") for n in range(3)]
    found = [i for _, i in hit_ids(await gql_search(graphql, member, "kiwi"))]
    assert sorted(found) == newer  # the 3 newest, the older best match is past the window
    cutoff = await http.get("/chat/search", params={"q": "number 0"}, headers=member.headers)
    timestamp = cutoff.json()["results"][0]["message"]["timestamp"]
    older = await gql_search(graphql, member, "kiwi", to=timestamp)
    assert hit_ids(older) == [("message", old)]


async def test_a_long_message_gets_a_bounded_snippet_around_the_match(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account
) -> None:
    await make_room(http, member, "essays")
    words = [f"filler{n}" for n in range(200)]
    words[120] = "needle"
    await rest_post(http, member, "essays", " ".join(words) + " <script>")
    (edge,) = (await gql_search(graphql, member, "NEEDLE"))["edges"]
    snippet = edge["node"]["snippet"]
    assert snippet.startswith("…filler114 filler115 ")
    assert " filler119 <mark>needle</mark> filler121 " in snippet
    assert snippet.endswith(" filler137…")
    assert len(snippet.split()) == limits.SNIPPET_WORDS


async def test_words_are_runs_of_letters_and_digits_on_both_databases(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account
) -> None:
    """PostgreSQL's parser would keep 3.14, an address or x_y whole: not here."""
    await make_room(http, member, "parts")
    sent = await rest_post(http, member, "parts", "Version 3.14, mail bob@example.com, x_y: Été")
    for q in ("14", "example", "bob", "y", "x y", "été", '"3 14"', "com 3"):
        assert hit_ids(await gql_search(graphql, member, q)) == [("message", sent)], q
    (edge,) = (await gql_search(graphql, member, "example 14"))["edges"]
    assert edge["node"]["snippet"] == (
        "Version 3.<mark>14</mark>, mail bob@<mark>example</mark>.com, x_y: Été"
    )
