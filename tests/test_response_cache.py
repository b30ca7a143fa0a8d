"""The response cache (RESPONSE_CACHE=1): catalogue reads from memory, never
stale after an acknowledged write, on one process and across two."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from core.settings import Settings
from core.versions import build_versions
from resolvers import live, response_cache
from resolvers.catalogue_events import CATALOGUE_CHANNEL, ProductChanged
from resolvers.events import Event
from tests.account_helpers import bearer
from tests.conftest import PASSWORD, Account, OverrideSettings
from tests.harness import Service, free_port
from tests.helpers import QueryCounter, scrape, value
from tests.live_helpers import redis_server
from tests.process_helpers import redis_url, two_processes

PRODUCTS = "{ products(first: 50) { totalCount edges { node { id name price stock } } } }"
HEADER = "x-cache"


@pytest.fixture
async def cache_on(override_settings: OverrideSettings) -> AsyncIterator[None]:
    """The cache on, with nothing kept from an earlier test (the suite empties
    its tables directly, outside the catalogue's writes)."""
    cache = response_cache.get()
    assert cache is not None
    cache.entries.clear()
    override_settings(response_cache=True)
    yield
    cache.entries.clear()


async def create(http: httpx.AsyncClient, admin: Account, name: str, stock: int = 1) -> int:
    body = {"name": name, "price": 2.5, "stock": stock}
    response = await http.post("/products", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def gql(
    http: httpx.AsyncClient, query: str = PRODUCTS, token: str | None = None
) -> httpx.Response:
    headers = bearer(token) if token else {}
    response = await http.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    assert not response.json().get("errors"), response.text
    return response


def set_stock(product: int, stock: int) -> str:
    return f'mutation {{ updateProduct(id: "{product}", input: {{stock: {stock}}}) {{ id }} }}'


def stocks(body: Any) -> dict[str, int]:
    if isinstance(body, list):  # REST
        return {str(p["id"]): p["stock"] for p in body}
    edges = body["data"]["products"]["edges"]
    return {e["node"]["id"]: e["node"]["stock"] for e in edges}


async def test_the_cache_is_off_by_default(http: httpx.AsyncClient, admin: Account) -> None:
    assert Settings().response_cache is False
    await create(http, admin, "Mug")
    for _ in range(2):
        assert HEADER not in (await http.get("/products")).headers
        assert HEADER not in (await gql(http)).headers


async def test_a_hit_skips_the_database_on_both_doors(
    http: httpx.AsyncClient,
    admin: Account,
    member: Account,
    cache_on: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await create(http, admin, "Mug")
    await create(http, admin, "Bowl")
    first_rest = await http.get("/products?limit=10")
    first_gql = await gql(http)
    assert first_rest.headers[HEADER] == first_gql.headers[HEADER] == "miss"
    before = await scrape(http)
    counter = QueryCounter(monkeypatch)
    rest = await http.get("/products?limit=10")
    assert (rest.headers[HEADER], counter.count) == ("hit", 0)
    assert rest.content == first_rest.content
    graphql = await gql(http)
    assert (graphql.headers[HEADER], counter.count) == ("hit", 0)
    assert graphql.content == first_gql.content
    assert graphql.json()["data"]["products"]["totalCount"] == 2
    after = await scrape(http)
    hits = value(after, "comptoir_response_cache_total", result="hit")
    assert hits == value(before, "comptoir_response_cache_total", result="hit") + 2
    # A signed-in viewer's hit costs its session check only, as any query does.
    assert (await gql(http, token=member.token)).headers[HEADER] == "miss"
    counter.count = 0
    await gql(http, "{ __typename }", token=member.token)
    session_check = counter.count
    counter.count = 0
    assert (await gql(http, token=member.token)).headers[HEADER] == "hit"
    assert counter.count == session_check


async def test_every_write_is_seen_by_the_next_read(
    http: httpx.AsyncClient, admin: Account, cache_on: None
) -> None:
    mug = await create(http, admin, "Mug", stock=5)

    async def read_both() -> list[dict[str, int]]:
        seen = []
        for _ in range(2):  # the second of each is a hit
            seen += [stocks((await http.get("/products")).json()), stocks((await gql(http)).json())]
        assert seen[0] == seen[1] == seen[2] == seen[3]
        return seen[:1]

    assert await read_both() == [{str(mug): 5}]
    patched = await http.patch(f"/products/{mug}", json={"stock": 4}, headers=admin.headers)
    assert patched.status_code == 200
    assert await read_both() == [{str(mug): 4}]
    assert (await gql(http, set_stock(mug, 3), token=admin.token)).json()["data"]
    assert await read_both() == [{str(mug): 3}]
    bowl = await create(http, admin, "Bowl", stock=7)
    assert await read_both() == [{str(mug): 3, str(bowl): 7}]
    delete = f'mutation {{ deleteProduct(id: "{mug}") }}'
    assert (await gql(http, delete, token=admin.token)).json()["data"]["deleteProduct"] is True
    assert await read_both() == [{str(bowl): 7}]
    # A refused write changes nothing and leaves the cache as it was.
    refused = await http.patch(f"/products/{bowl}", json={"stock": 0})
    assert refused.status_code == 401
    assert (await http.get("/products")).headers[HEADER] == "hit"


async def test_viewer_classes_never_share_an_answer(
    http: httpx.AsyncClient, admin: Account, member: Account, cache_on: None
) -> None:
    await create(http, admin, "Mug")
    viewers = [None, member.token, admin.token]
    # Each class computes its own answer first: nobody is served another's.
    for token in viewers:
        assert (await gql(http, token=token)).headers[HEADER] == "miss"
    for token in viewers:
        assert (await gql(http, token=token)).headers[HEADER] == "hit"
    # A selection that depends on who asks, or reads beyond the catalogue,
    # is never cached.
    for query in (
        "{ products { totalCount } me { id email } }",
        "{ products { totalCount } rooms { name } }",
        "{ products { totalCount } __schema { queryType { name } } }",
    ):
        for _ in range(2):
            response = await gql(http, query, token=member.token)
            assert HEADER not in response.headers, query
    # An invalid token is refused as before, whatever is cached.
    stranger = await http.post(
        "/graphql", json={"query": PRODUCTS}, headers={"Authorization": "Bearer nope"}
    )
    assert stranger.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert HEADER not in stranger.headers


async def test_etags_follow_the_cached_answers(
    http: httpx.AsyncClient, admin: Account, cache_on: None
) -> None:
    mug = await create(http, admin, "Mug")
    for stock, (path, params) in enumerate(
        [("/products", {}), ("/graphql", {"query": PRODUCTS})], start=10
    ):
        miss = await http.get(path, params=params)
        hit = await http.get(path, params=params)
        assert (miss.headers[HEADER], hit.headers[HEADER]) == ("miss", "hit")
        assert hit.headers["etag"] == miss.headers["etag"]
        assert hit.content == miss.content
        tag = {"If-None-Match": hit.headers["etag"]}
        assert (await http.get(path, params=params, headers=tag)).status_code == 304
        await http.patch(f"/products/{mug}", json={"stock": stock}, headers=admin.headers)
        after = await http.get(path, params=params, headers=tag)
        assert after.status_code == 200
        assert after.headers["etag"] != hit.headers["etag"]
        assert list(stocks(after.json()).values()) == [stock]


async def test_a_persisted_query_shares_the_answer_of_its_document(
    http: httpx.AsyncClient, admin: Account, cache_on: None
) -> None:
    await create(http, admin, "Mug")
    digest = hashlib.sha256(PRODUCTS.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    stored = await http.post("/graphql", json={"query": PRODUCTS, "extensions": extensions})
    assert stored.headers[HEADER] == "miss"
    by_hash = await http.get("/graphql", params={"extensions": json.dumps(extensions)})
    assert by_hash.headers[HEADER] == "hit"
    assert by_hash.content == stored.content


async def test_each_write_publishes_a_catalogue_event(
    http: httpx.AsyncClient, admin: Account, cache_on: None
) -> None:
    received: list[Event] = []

    class Listener:
        def deliver(self, event: Event) -> None:
            received.append(event)

        def lost(self, error: Exception) -> None:
            raise AssertionError(error)

    listener = Listener()
    await live.get().attach(CATALOGUE_CHANNEL, listener, after=None)
    try:
        mug = await create(http, admin, "Mug")
        await http.patch(f"/products/{mug}", json={"stock": 9}, headers=admin.headers)
        await http.delete(f"/products/{mug}", headers=admin.headers)
        for _ in range(1000):  # the broker delivers in its own time (no pause needed)
            if len(received) >= 3:
                break
            await http.get("/health")
    finally:
        live.get().detach(CATALOGUE_CHANNEL, listener)
    changes = [(e.product_id, e.change) for e in received if isinstance(e, ProductChanged)]
    assert changes == [(mug, "created"), (mug, "updated"), (mug, "deleted")]
    versions = [e.version for e in received if isinstance(e, ProductChanged)]
    assert versions == sorted(versions)
    assert len(set(versions)) == 3


async def test_without_the_broker_reads_bypass_and_writes_are_refused(
    http: httpx.AsyncClient, admin: Account, cache_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    mug = await create(http, admin, "Mug", stock=1)
    assert (await http.get("/products")).headers[HEADER] == "miss"
    assert (await http.get("/products")).headers[HEADER] == "hit"
    cache = response_cache.get()
    assert cache is not None
    # A broker that does not answer: nothing listens on that port.
    gone = build_versions(f"redis://127.0.0.1:{free_port()}", prefix="gone")
    monkeypatch.setattr(cache, "versions", gone)
    for _ in range(2):
        assert (await http.get("/products")).headers[HEADER] == "bypass"
        assert (await gql(http)).headers[HEADER] == "bypass"
    refused = await http.patch(f"/products/{mug}", json={"stock": 2}, headers=admin.headers)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert stocks((await http.get("/products")).json()) == {str(mug): 1}
    await gone.close()


async def forget_keys(broadcast: str, prefix: str) -> None:
    """Remove what a test left in Redis under its own prefix."""
    if not broadcast.startswith("redis"):
        return
    client = redis.Redis.from_url(broadcast)
    try:
        async for name in client.scan_iter(match=f"{prefix}:*"):
            await client.delete(name)
    finally:
        await client.aclose()


async def test_versions_hold_reads_off_while_a_write_is_in_flight(service: Service) -> None:
    """The backend the suite runs on (memory, or Redis): a lease hides the
    version; a bump moves it past every version read before; an expired
    lease (its writer died) is bumped by the next reader."""
    broadcast = service.settings.broadcast_url
    prefix = f"versions-{uuid.uuid4().hex[:8]}"
    versions = build_versions(broadcast, prefix=prefix)
    try:
        before = await versions.current("shelf")
        assert before is not None
        token = await versions.lease("shelf", 60)
        assert await versions.current("shelf") is None
        after = await versions.bump("shelf", token)
        assert after > before
        assert await versions.current("shelf") == after
        await versions.lease("shelf", 0)  # expired at once
        expired = await versions.current("shelf")
        assert expired is not None
        assert expired > after
    finally:
        await versions.close()
        await forget_keys(broadcast, prefix)


@pytest.mark.slow
async def test_a_write_acknowledged_on_one_process_is_read_at_once_on_another(
    tmp_path: Path,
) -> None:
    """Two processes sharing the suite's database and Redis, the cache on:
    B caches the listing, A writes; once A has acknowledged, B's next read
    shows the write. Many times, with no pause."""
    broadcast = redis_url()
    prefix = f"respcache-{uuid.uuid4().hex[:8]}"
    async with two_processes(
        tmp_path,
        "respcache",
        database=os.environ.get("DATABASE_URL") or "sqlite://",
        admins=["boss@example.com"],
        PUBSUB_PREFIX=prefix,
        RESPONSE_CACHE="1",
    ) as pair:
        a, b = pair.http1, pair.http2
        login = await a.post("/login", json={"email": "boss@example.com", "password": PASSWORD})
        boss = bearer(login.json()["access_token"])
        created = await a.post("/products", json={"name": "Mug", "price": 1}, headers=boss)
        assert created.status_code == 201, created.text
        mug = created.json()["id"]
        hits = 0
        for stock in range(1, 41):
            for _ in range(2):  # cached on B
                rest, graphql = await b.get("/products"), await gql(b)
                hits += (rest.headers[HEADER], graphql.headers[HEADER]) == ("hit", "hit")
            if stock % 2:
                write = await a.patch(f"/products/{mug}", json={"stock": stock}, headers=boss)
                assert write.status_code == 200
            else:
                await gql(a, set_stock(mug, stock), token=login.json()["access_token"])
            # Acknowledged: B's very next reads, on both doors, show it.
            assert stocks((await b.get("/products")).json()) == {str(mug): stock}
            assert stocks((await gql(b)).json()) == {str(mug): stock}
        # B answered from its cache between writes: all but the very first pair.
        assert hits == 79
        # Creations and deletions too.
        bowl = await a.post("/products", json={"name": "Bowl", "price": 2}, headers=boss)
        assert stocks((await b.get("/products")).json()) == {
            str(mug): 40,
            str(bowl.json()["id"]): 0,
        }
        assert (await a.delete(f"/products/{mug}", headers=boss)).status_code == 204
        assert list(stocks((await gql(b)).json())) == [str(bowl.json()["id"])]
    await forget_keys(broadcast, prefix)


@pytest.mark.slow
async def test_a_lost_broker_never_serves_an_old_answer(tmp_path: Path) -> None:
    """A private Redis, killed and restarted empty: meanwhile reads bypass
    and writes are refused (nothing written); afterwards the version starts
    above every version handed out before, so nothing cached earlier is
    served again, and writes are seen at once again."""
    async with (
        redis_server(tmp_path) as broker,
        two_processes(
            tmp_path,
            "respcache",
            database=os.environ.get("DATABASE_URL") or "sqlite://",
            admins=["boss@example.com"],
            BROADCAST_URL=broker.url,
            RESPONSE_CACHE="1",
        ) as pair,
    ):
        a, b = pair.http1, pair.http2
        login = await a.post("/login", json={"email": "boss@example.com", "password": PASSWORD})
        boss = bearer(login.json()["access_token"])
        created = await a.post("/products", json={"name": "Mug", "price": 1}, headers=boss)
        mug = created.json()["id"]
        await b.get("/products")
        assert (await b.get("/products")).headers[HEADER] == "hit"
        await broker.kill()
        during = await b.get("/products")
        assert (during.headers[HEADER], stocks(during.json())) == ("bypass", {str(mug): 0})
        refused = await a.patch(f"/products/{mug}", json={"stock": 5}, headers=boss)
        assert refused.status_code == 503
        await broker.start()  # empty: no version, no lease
        after = await b.get("/products")
        assert (after.headers[HEADER], stocks(after.json())) == ("miss", {str(mug): 0})
        assert (await b.get("/products")).headers[HEADER] == "hit"
        written = await a.patch(f"/products/{mug}", json={"stock": 6}, headers=boss)
        assert written.status_code == 200
        assert stocks((await b.get("/products")).json()) == {str(mug): 6}
