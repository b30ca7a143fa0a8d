"""A document's later sends over HTTP (schema/lean.py: straight to
graphql-core once the document was seen valid) answer exactly as its first
(Strawberry's whole path): data, errors and their codes, request errors and
their status, refused methods and operation names, and the metrics.

Each test's documents carry a comment of their own, so that their first send
is the first this server sees of that text.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from core import metrics
from tests.conftest import Account, MakeAccount
from tests.helpers import scrape, value

GRAPHQL_RESPONSE = "application/graphql-response+json"


def fresh(document: str) -> str:
    """``document`` with a comment making its text new to the server."""
    return f"# {uuid.uuid4()}\n{document}"


async def twice(
    http: httpx.AsyncClient,
    payload: dict[str, Any],
    *,
    token: str | None = None,
    accept: str | None = None,
    method: str = "POST",
) -> httpx.Response:
    """Send ``payload`` twice, check both answers are the same, return the first."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept:
        headers["Accept"] = accept
    answers = []
    for _ in range(2):
        if method == "POST":
            response = await http.post("/graphql", json=payload, headers=headers)
        else:
            params = {k: v for k, v in payload.items() if isinstance(v, str)}
            response = await http.get("/graphql", params=params, headers=headers)
        answers.append(response)
    first, second = answers
    assert second.status_code == first.status_code
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.json() == first.json()
    return first


async def test_data_and_field_errors(
    http: httpx.AsyncClient, admin: Account, member: Account
) -> None:
    for i in range(3):
        created = await http.post(
            "/products", json={"name": f"L{i}", "price": "2.25", "stock": i}, headers=admin.headers
        )
        assert created.status_code == 201
    page = fresh("""query Page($n: Int) {
      list: products(first: $n) { __typename totalCount
        edges { cursor node { ...P  stock @include(if: true) } }
        pageInfo { hasNextPage endCursor } }
      one: product(id: "nope") { id }
    }
    fragment P on Product { id label: name price createdAt updatedAt }""")
    body = (await twice(http, {"query": page, "variables": {"n": 2}})).json()
    assert len(body["data"]["list"]["edges"]) == 2
    assert body["data"]["one"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["errors"][0]["path"] == ["one"]

    # A mutation the caller may not run: null data and FORBIDDEN, both times.
    create = fresh('mutation { createProduct(input: {name: "x", price: "1"}) { id } }')
    body = (await twice(http, {"query": create}, token=member.token)).json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_private_room_is_like_a_missing_one(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    owner = await make_account()
    outsider = await make_account()
    room = await http.post(
        "/chat/rooms", json={"name": "lean-private", "is_private": True}, headers=owner.headers
    )
    assert room.status_code == 201
    sent = await http.post(
        "/chat/rooms/lean-private/messages", json={"content": "hi"}, headers=owner.headers
    )
    assert sent.status_code == 201
    query = fresh("""query ($room: String!) { roomMessages(room: $room, last: 5) {
        edges { node { id content author { id displayName } } } } }""")
    seen = (
        await twice(
            http, {"query": query, "variables": {"room": "lean-private"}}, token=owner.token
        )
    ).json()
    assert seen["data"]["roomMessages"]["edges"][0]["node"]["content"] == "hi"
    hidden = (
        await twice(
            http, {"query": query, "variables": {"room": "lean-private"}}, token=outsider.token
        )
    ).json()
    missing = (
        await twice(
            http, {"query": query, "variables": {"room": "lean-nowhere"}}, token=outsider.token
        )
    ).json()
    assert [e["extensions"]["code"] for e in hidden["errors"]] == ["NOT_FOUND"]
    assert hidden["errors"][0]["message"] == missing["errors"][0]["message"]


async def test_request_errors_keep_their_status(http: httpx.AsyncClient) -> None:
    query = fresh("query ($n: Int!) { products(first: $n) { totalCount } }")
    assert (await twice(http, {"query": query, "variables": {"n": 1}})).status_code == 200
    for accept, status in ((GRAPHQL_RESPONSE, 400), ("application/json", 200)):
        bad = await twice(http, {"query": query, "variables": {"n": "x"}}, accept=accept)
        assert bad.status_code == status
        assert "data" not in bad.json()
        assert [e["extensions"]["code"] for e in bad.json()["errors"]] == ["BAD_USER_INPUT"]


async def test_operation_names_and_methods(http: httpx.AsyncClient) -> None:
    two = fresh("""query A { products(first: 1) { totalCount } }
    mutation B { createProduct(input: {name: "x", price: "1"}) { id } }""")
    a = await twice(http, {"query": two, "operationName": "A"})
    assert a.status_code == 200
    assert a.json()["data"]["products"]["totalCount"] >= 0
    unauthenticated = (await twice(http, {"query": two, "operationName": "B"})).json()
    assert [e["extensions"]["code"] for e in unauthenticated["errors"]] == ["UNAUTHENTICATED"]
    assert (await twice(http, {"query": two, "operationName": "C"})).status_code == 400
    # Seen valid over POST, the mutation is still refused over GET.
    refused = await twice(http, {"query": two, "operationName": "B"}, method="GET")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"
    assert (await twice(http, {"query": two, "operationName": "A"}, method="GET")).is_success
    # Without a name, Strawberry runs the first operation, both times.
    assert (await twice(http, {"query": two})).json() == a.json()


async def test_both_sends_are_counted(http: httpx.AsyncClient) -> None:
    query = fresh('query LeanCount { product(id: "nope") { id } }')
    op = {"name": metrics.operation_label("LeanCount"), "type": "query"}
    before = await scrape(http)
    await twice(http, {"query": query})
    after = await scrape(http)
    assert value(after, "comptoir_graphql_operations_total", **op) == (
        value(before, "comptoir_graphql_operations_total", **op) + 2
    )
    assert value(after, "comptoir_graphql_errors_total", code="BAD_USER_INPUT") >= (
        value(before, "comptoir_graphql_errors_total", code="BAD_USER_INPUT") + 2
    )


async def test_json_posts_answer_alike_however_spelled(http: httpx.AsyncClient) -> None:
    """A POST the view reads as plain JSON answers as Strawberry's content
    negotiation does (taken when ``Accept`` names some ``multipart`` type),
    for each spelling of the content type, request errors included."""
    good = json.dumps({"query": "{ products(first: 1) { totalCount } }"}).encode()
    bad = json.dumps({"query": "{ __typename }", "extensions": "a string"}).encode()
    statuses = set()
    for content in (good, bad):
        for content_type in (
            "application/json",
            "application/json; charset=utf-8",
            'application/json ; foo="bar"',
            "Application/JSON",
            "application/jsonx",
        ):
            answers = []
            for accept in ("application/json", "application/json, multipart/unknown"):
                response = await http.post(
                    "/graphql",
                    content=content,
                    headers={"Content-Type": content_type, "Accept": accept},
                )
                answers.append((response.status_code, response.json()))
            assert answers[0] == answers[1], content_type
            statuses.add(answers[0][0])
    assert statuses == {200, 400}
