"""Production mode (checklist 19), CORS origins (checklist 21) and limits
set from the environment.

A server process started as an operator would (``DEMO=0``, GraphiQL and
introspection left to their defaults, ``CORS_ORIGINS`` and tighter limits
set), on a database of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.harness import scratch_database
from tests.process_server import serving_process

pytestmark = pytest.mark.slow

APP_ORIGIN = "https://app.example.com"
LEAKS = ("Traceback", 'File "', "/work", "site-packages", ".py", "SELECT", "sqlite", "asyncpg")


@pytest.fixture(scope="module")
async def production(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    tmp = tmp_path_factory.mktemp("production")
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp) as database_url:
        env = {
            "DATABASE_URL": database_url,
            "BROADCAST_URL": os.environ.get("BROADCAST_URL") or "memory://",
            # Its own keys and channels: parallel test processes share Redis.
            "PUBSUB_PREFIX": f"comptoir-prod-{uuid.uuid4().hex[:8]}",
            "DEMO": "0",
            "CORS_ORIGINS": APP_ORIGIN,
            # An operator's tighter limits.
            "GRAPHQL_MAX_DEPTH": "4",
            "GRAPHQL_MAX_ALIASES": "3",
            "GRAPHQL_MAX_FIELDS": "20",
            "GRAPHQL_MAX_TOKENS": "200",
            "GRAPHQL_MAX_COST": "500",
            "GRAPHQL_MAX_DIRECTIVES": "2",
            "GRAPHQL_MAX_BATCH": "2",
            "MAX_REQUEST_BYTES": "4096",
        }
        async with serving_process(env, tmp) as url:
            yield url


@pytest.fixture
async def prod(production: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=production, timeout=30) as client:
        yield client


async def gql(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def assert_no_leak(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, (leak, text)


@pytest.mark.checklist(19, "graphql")
async def test_introspection_is_refused(prod: httpx.AsyncClient) -> None:
    for query in [
        "{ __schema { types { name } } }",
        '{ __type(name: "User") { fields { name } } }',
        "query IntrospectionQuery { __schema { queryType { name } } }",
    ]:
        body = await gql(prod, query)
        assert "data" not in body
        assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
        assert "introspection" in body["errors"][0]["message"].lower()
    # __typename is not introspection of the schema: it stays.
    assert (await gql(prod, "{ __typename }")) == {"data": {"__typename": "Query"}}


@pytest.mark.checklist(19, "graphql")
async def test_graphiql_is_not_served(prod: httpx.AsyncClient) -> None:
    for accept in ("text/html", "text/html,application/xhtml+xml,*/*;q=0.8", "*/*"):
        response = await prod.get("/graphql", headers={"Accept": accept})
        assert response.status_code == 404, accept
        assert "graphiql" not in response.text.lower()
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.checklist(19, "graphql")
async def test_no_field_suggestions(prod: httpx.AsyncClient) -> None:
    for query in [
        "{ prodcts { totalCount } }",
        "{ products(frist: 1) { totalCount } }",
        "{ products { edges { nod { id } } } }",
        "query($x: Strin) { __typename }",
    ]:
        body = await gql(prod, query)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        for error in body["errors"]:
            assert "Did you mean" not in error["message"], error


@pytest.mark.checklist(19, "rest", "graphql")
async def test_errors_show_no_stack_trace_sql_or_path(prod: httpx.AsyncClient) -> None:
    responses = [
        await prod.post("/graphql", content=b"{", headers={"Content-Type": "application/json"}),
        await prod.post(
            "/graphql", content=b"[" * 20000, headers={"Content-Type": "application/json"}
        ),
        await prod.post("/graphql", json={"query": "{" * 3000}),
        await prod.post("/graphql", json={"query": '{ product(id: "1 OR 1=1") { id } }'}),
        await prod.post("/login", content=b"{", headers={"Content-Type": "application/json"}),
        await prod.post("/login", json={"email": ["x"], "password": {"a": 1}}),
        await prod.get("/products/1%27%20OR%201=1"),
        await prod.get("/products", params={"limit": "10" * 40}),
        await prod.get("/nope/../../etc/passwd"),
    ]
    for response in responses:
        assert response.status_code < 500, (response.request.url, response.text)
        assert_no_leak(response.text)


@pytest.mark.checklist(21, "graphql")
async def test_cors_allows_only_the_listed_origins_without_credentials(
    prod: httpx.AsyncClient,
) -> None:
    preflight = await prod.options(
        "/graphql",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "access-control-allow-credentials" not in preflight.headers
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    simple = await prod.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": APP_ORIGIN}
    )
    assert simple.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "retry-after" in simple.headers["access-control-expose-headers"].lower()
    for origin in ("https://evil.example", "https://app.example.com.evil.example", "null"):
        refused = await prod.options(
            "/graphql",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 400, origin
        assert "access-control-allow-origin" not in refused.headers
        response = await prod.get("/health", headers={"Origin": origin})
        assert "access-control-allow-origin" not in response.headers
    for response in (preflight, simple):
        assert response.headers["access-control-allow-origin"] != "*"


async def test_limits_follow_the_environment(prod: httpx.AsyncClient) -> None:
    def message(body: dict[str, Any]) -> str:
        assert "data" not in body, body
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        return str(body["errors"][0]["message"])

    page = "products(first: 100) {{ edges {{ node {{ {} }} }} }}"
    assert "data" in await gql(prod, "{ " + page.format("id") + " }")
    checks = [
        ("{ a { b { c { d { e { id } } } } } }", "Query depth 5 is over the limit of 4"),
        ("{ a: __typename b: __typename c: __typename d: __typename }", "aliases 4"),
        ("{ " + "__typename " * 201 + "}", "more than 200 tokens"),
        ("{ " + "__typename " * 21 + "}", "Query fields 21 is over the limit of 20"),
        ("{ " + page.format("id name description price") + " }", "Query cost 601"),
        (
            "{ __typename @skip(if: false) a: __typename @skip(if: false) @include(if: true) }",
            "directives 3",
        ),
    ]
    for query, expected in checks:
        assert expected in message(await gql(prod, query)), query
    batch = await prod.post("/graphql", json=[{"query": "{ __typename }"}] * 3)
    assert batch.status_code == 400
    assert "at most 2" in batch.json()["errors"][0]["message"]
    assert (await prod.post("/graphql", json=[{"query": "{ __typename }"}] * 2)).status_code == 200
    big = await prod.post("/graphql", json={"query": "{ __typename }", "pad": "x" * 5000})
    assert big.status_code == 413


@pytest.mark.checklist(21, "rest")
async def test_cors_preflight_admits_every_documented_method_and_conditional_reads(
    prod: httpx.AsyncClient,
) -> None:
    """A browser app on a listed origin can call every REST path the spec documents.

    The methods come from /openapi.json, so a new verb (PUT joins a room, sets a
    read marker or a reaction) fails here if the CORS policy does not admit it.
    """
    spec = (await prod.get("/openapi.json")).json()
    methods = {
        method.upper()
        for operations in spec["paths"].values()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= methods
    for method in sorted(methods):
        preflight = await prod.options(
            "/chat/rooms/general/members/me",
            headers={
                "Origin": APP_ORIGIN,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization, content-type, if-none-match",
            },
        )
        assert preflight.status_code == 200, (method, preflight.text)
        assert method in preflight.headers["access-control-allow-methods"].split(", ")
        assert "if-none-match" in preflight.headers["access-control-allow-headers"].lower()
    listing = await prod.get("/products", headers={"Origin": APP_ORIGIN})
    exposed = listing.headers["access-control-expose-headers"].lower()
    assert "etag" in listing.headers
    assert {"etag", "x-cache", "retry-after"} <= set(exposed.replace(" ", "").split(","))
