"""Internal resources on GraphQL: the resources connection and createResource."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import Account, GraphQL, MakeAccount, data_of, error_codes
from tests.files_helpers import upload
from tests.helpers import BAD_URLS, listener

RESOURCE_FIELDS = "id title description kind url createdAt file { id filename size url }"
CREATE = f"""
mutation Create($input: ResourceInput!) {{
  createResource(input: $input) {{ {RESOURCE_FIELDS} }}
}}
"""
RESOURCES = f"""
query Resources($first: Int, $after: String, $last: Int, $before: String, $kind: ResourceKind) {{
  resources(first: $first, after: $after, last: $last, before: $before, kind: $kind) {{
    totalCount
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ cursor node {{ {RESOURCE_FIELDS} }} }}
  }}
}}
"""


async def create(graphql: GraphQL, token: str | None, **fields: Any) -> dict[str, Any]:
    return await graphql(CREATE, {"input": fields}, token=token)


async def test_admin_creates_a_link(graphql: GraphQL, admin: Account, member: Account) -> None:
    body = await create(
        graphql,
        admin.token,
        title="Style guide",
        description="How we write",
        kind="DOCUMENT",
        url="https://docs.example.com/style",
    )
    created = data_of(body)["createResource"]
    assert created["title"] == "Style guide"
    assert created["description"] == "How we write"
    assert created["kind"] == "DOCUMENT"
    assert created["url"] == "https://docs.example.com/style"
    assert created["file"] is None
    listed = data_of(await graphql(RESOURCES, {}, token=member.token))["resources"]
    assert listed["totalCount"] == 1
    assert [e["node"] for e in listed["edges"]] == [created]


async def test_resource_with_a_file_is_downloadable_by_every_member(
    http: httpx.AsyncClient, graphql: GraphQL, admin: Account, make_account: MakeAccount
) -> None:
    uploaded = (await upload(http, admin, b"slides", filename="deck.pdf")).json()
    created = data_of(
        await create(graphql, admin.token, title="Deck", kind="OTHER", fileId=str(uploaded["id"]))
    )["createResource"]
    assert created["url"] is None
    assert created["file"] == {
        "id": str(uploaded["id"]),
        "filename": "deck.pdf",
        "size": 6,
        "url": uploaded["url"],
    }
    reader = await make_account()
    [edge] = data_of(await graphql(RESOURCES, {}, token=reader.token))["resources"]["edges"]
    assert edge["node"]["file"]["url"] == uploaded["url"]
    download = await http.get(uploaded["url"], headers=reader.headers)
    assert download.status_code == 200
    assert download.content == b"slides"
    # An ADMIN deleting the file deletes the resource that links it: no
    # resource is left with neither url nor file (tests/test_files_linked.py).
    assert (await http.delete(uploaded["url"], headers=admin.headers)).status_code == 204
    assert data_of(await graphql(RESOURCES, {}, token=reader.token))["resources"]["edges"] == []


async def test_kind_filter_and_paging(graphql: GraphQL, admin: Account, member: Account) -> None:
    kinds = ["LINK", "VIDEO", "LINK", "TUTORIAL", "LINK"]
    ids = [
        data_of(await create(graphql, admin.token, title=f"r{i}", kind=k, url="http://e.com"))[
            "createResource"
        ]["id"]
        for i, k in enumerate(kinds)
    ]
    links = data_of(await graphql(RESOURCES, {"kind": "LINK", "first": 2}, token=member.token))[
        "resources"
    ]
    assert links["totalCount"] == 3
    assert [e["node"]["id"] for e in links["edges"]] == [ids[0], ids[2]]
    assert links["pageInfo"]["hasNextPage"] is True
    after = links["pageInfo"]["endCursor"]
    rest = data_of(await graphql(RESOURCES, {"kind": "LINK", "after": after}, token=member.token))[
        "resources"
    ]
    assert [e["node"]["id"] for e in rest["edges"]] == [ids[4]]
    last = data_of(await graphql(RESOURCES, {"last": 2}, token=member.token))["resources"]
    assert [e["node"]["id"] for e in last["edges"]] == ids[3:]
    assert last["pageInfo"]["hasPreviousPage"] is True

    assert error_codes(await graphql(RESOURCES, {"kind": "PODCAST"}, token=member.token)) == [
        "BAD_USER_INPUT"
    ]
    assert error_codes(await graphql(RESOURCES, {"first": -1}, token=member.token)) == [
        "BAD_USER_INPUT"
    ]
    huge = await graphql(RESOURCES, {"first": 10**9}, token=member.token)
    assert len(data_of(huge)["resources"]["edges"]) == 5


async def test_member_cannot_create_and_anonymous_cannot_read(
    graphql: GraphQL, member: Account
) -> None:
    fields = {"title": "Mine", "url": "https://example.com"}
    assert error_codes(await create(graphql, member.token, **fields)) == ["FORBIDDEN"]
    assert error_codes(await create(graphql, None, **fields)) == ["UNAUTHENTICATED"]
    assert error_codes(await graphql(RESOURCES, {})) == ["UNAUTHENTICATED"]
    assert data_of(await graphql(RESOURCES, {}, token=member.token))["resources"]["edges"] == []


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "js", "url": "javascript:alert(1)"},
        {"title": "file", "url": "file:///etc/passwd"},
        {"title": "data", "url": "data:text/html;base64,PHNjcmlwdD4="},
        {"title": "relative", "url": "/docs"},
        {"title": "long", "url": "https://example.com/" + "a" * 2100},
        {"title": "neither"},
        {"title": "both", "url": "https://example.com", "fileId": "1"},
        {"title": "missing file", "fileId": "999999"},
        {"title": "bad id", "fileId": "abc"},
        {"title": "", "url": "https://example.com"},
    ],
)
async def test_invalid_resources_are_refused(
    http: httpx.AsyncClient, graphql: GraphQL, admin: Account, fields: dict[str, Any]
) -> None:
    await upload(http, admin, b"so that file 1 exists")
    assert error_codes(await create(graphql, admin.token, **fields)) == ["BAD_USER_INPUT"]
    assert data_of(await graphql(RESOURCES, {}, token=admin.token))["resources"]["totalCount"] == 0


@pytest.mark.checklist(26, "graphql")
async def test_only_http_urls_and_nothing_fetched_on_graphql(
    http: httpx.AsyncClient, admin: Account
) -> None:
    create = (
        'mutation ($u: String!) { createResource(input: {title: "t", kind: LINK, url: $u}) '
        "{ id url } }"
    )

    async def post(url: str) -> dict[str, Any]:
        response = await http.post(
            "/graphql", json={"query": create, "variables": {"u": url}}, headers=admin.headers
        )
        body: dict[str, Any] = response.json()
        return body

    for url in BAD_URLS:
        assert error_codes(await post(url)) == ["BAD_USER_INPUT"], url
    server, hits = await listener()
    port = server.sockets[0].getsockname()[1]
    try:
        url = f"http://127.0.0.1:{port}/internal"
        assert (await post(url))["data"]["createResource"]["url"] == url
        await asyncio.sleep(0.3)
        assert hits == []
    finally:
        server.close()
        await server.wait_closed()
