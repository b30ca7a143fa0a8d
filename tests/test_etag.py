"""ETag / If-None-Match on REST listings and on GraphQL queries over GET."""

from __future__ import annotations

import httpx

from tests.conftest import Account

QUERY = "{ products(first: 10) { edges { node { id name price } } } }"


async def make_product(http: httpx.AsyncClient, admin: Account, name: str) -> int:
    created = await http.post("/products", json={"name": name, "price": 2}, headers=admin.headers)
    assert created.status_code == 201, created.text
    product_id: int = created.json()["id"]
    return product_id


async def test_rest_listing_revalidates(http: httpx.AsyncClient, admin: Account) -> None:
    product_id = await make_product(http, admin, "Kettle")
    first = await http.get("/products")
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "no-cache"

    same = await http.get("/products", headers={"If-None-Match": etag})
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["etag"] == etag

    # A write changes the body, so the old validator no longer matches.
    patched = await http.patch(
        f"/products/{product_id}", json={"name": "Teapot"}, headers=admin.headers
    )
    assert patched.status_code == 200
    fresh = await http.get("/products", headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.json()[0]["name"] == "Teapot"
    assert fresh.headers["etag"] != etag


async def test_listing_with_credentials_is_private(
    http: httpx.AsyncClient, member: Account
) -> None:
    rooms = await http.get("/chat/rooms", headers=member.headers)
    assert rooms.status_code == 200
    assert rooms.headers["cache-control"] == "private, no-cache"
    again = await http.get(
        "/chat/rooms", headers={**member.headers, "If-None-Match": rooms.headers["etag"]}
    )
    assert again.status_code == 304


async def test_graphql_get_revalidates(http: httpx.AsyncClient, admin: Account) -> None:
    await make_product(http, admin, "Cup")
    first = await http.get("/graphql", params={"query": QUERY})
    assert first.status_code == 200
    etag = first.headers["etag"]
    same = await http.get("/graphql", params={"query": QUERY}, headers={"If-None-Match": etag})
    assert same.status_code == 304
    assert same.content == b""
    await make_product(http, admin, "Saucer")
    fresh = await http.get("/graphql", params={"query": QUERY}, headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert len(fresh.json()["data"]["products"]["edges"]) == 2


async def test_graphql_post_and_errors_carry_no_validator(http: httpx.AsyncClient) -> None:
    posted = await http.post("/graphql", json={"query": QUERY})
    assert posted.status_code == 200
    assert "etag" not in posted.headers
    refused = await http.get("/graphql", params={"query": "{ nope }"})
    assert "etag" not in refused.headers
