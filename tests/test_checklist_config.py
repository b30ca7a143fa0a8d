"""Security checklist 19-22 (misconfiguration, API8), door by door.

Production mode runs in a server process of its own (``DEMO=0`` and
GraphiQL/introspection left to their defaults), started once for the module.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.authz_world import Subscriber, subscriber
from tests.conftest import Account, error_codes
from tests.harness import Service, scratch_database
from tests.ws_helpers import (
    chat_client,
    handshake_status,
    process_env,
    register,
    request,
    server_process,
)

LEAKS = (
    "Traceback",
    'File "',
    "/work",
    "/tmp",
    "site-packages",
    ".py",
    "SELECT",
    "INSERT",
    "sqlite",
    "asyncpg",
    "tortoise",
    "Did you mean",
)
EVIL = "https://evil.example.net"


@dataclass
class Production:
    http_url: str
    ws_url: str
    token: str


@pytest.fixture(scope="module")
async def production(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Production]:
    tmp: Path = tmp_path_factory.mktemp("production-checklist")
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp) as database_url:
        env = process_env(database_url, tmp, DEMO="0", GRAPHIQL="", GRAPHQL_INTROSPECTION="")
        async with server_process(env, log=tmp / "server.log") as server:
            async with server.client() as client:
                _, token = await register(client, "prod@example.com")
            yield Production(server.http_url, server.ws_url, token)


def assert_clean(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, (leak, text[:500])


# --- 19. production mode ---------------------------------------------------------------


async def test_19_production_graphql_hides_schema_and_internals(production: Production) -> None:
    async with httpx.AsyncClient(base_url=production.http_url, timeout=30) as http:
        introspection = await http.post(
            "/graphql", json={"query": "{ __schema { types { name } } }"}
        )
        assert set(error_codes(introspection.json())) == {"BAD_USER_INPUT"}
        assert "data" not in introspection.json() or not introspection.json()["data"]
        ide = await http.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in ide.text.lower()
        for query in (
            "{ produts { totalCount } }",
            "{ me { emial } }",
            "{ product(id: 99999999999) { id } }",
            "{",
        ):
            body = (await http.post("/graphql", json={"query": query})).json()
            assert error_codes(body), query
            assert_clean(json.dumps(body))


async def test_19_production_rest_errors_show_no_internals(production: Production) -> None:
    async with httpx.AsyncClient(base_url=production.http_url, timeout=30) as http:
        responses = [
            await http.get("/nowhere"),
            await http.get("/products/99999999999999999999"),
            await http.get("/products/abc"),
            await http.post(
                "/login", content=b"{nope", headers={"content-type": "application/json"}
            ),
            await http.post("/login", content=b"a=b", headers={"content-type": "text/plain"}),
            await http.get("/me", headers={"authorization": "Bearer x.y.z"}),
            await http.get(
                "/chat/rooms/%00/messages", headers={"authorization": f"Bearer {production.token}"}
            ),
            await http.get(
                "/chat/rooms/x/messages?limit=abc",
                headers={"authorization": f"Bearer {production.token}"},
            ),
        ]
        for response in responses:
            assert 400 <= response.status_code < 500, response.text
            assert set(response.json()) == {"error"}
            assert_clean(response.text)


async def test_19_production_ws_errors_show_no_internals(production: Production) -> None:
    async with chat_client(production.ws_url, production.token) as ws:
        for frame in (
            {"type": "join", "room": "\x00" * 10},
            {"type": "message", "room": 10**30, "content": "x"},
            {"type": "dm", "to": 10**12, "content": "x"},
            {"type": "room_history", "room": "nowhere", "before": -1},
            {"type": "auth", "token": "x.y.z"},
            {"type": "nope"},
        ):
            reply = await request(ws, frame)
            assert reply["type"] == "error"
            assert reply["code"] != "INTERNAL_SERVER_ERROR"
            assert_clean(json.dumps(reply))


# --- 20. GraphQL over GET, text/plain and forms --------------------------------------------


async def test_20_mutations_over_get_and_simple_posts_are_refused_on_graphql(
    http: httpx.AsyncClient, admin: Account
) -> None:
    mutation = 'mutation { createProduct(input: {name: "csrf", price: "1"}) { id } }'
    over_get = await http.get("/graphql", params={"query": mutation}, headers=admin.headers)
    # 405 per GraphQL over HTTP for a mutation sent with GET (the checklist says 400)
    assert over_get.status_code in {400, 405}
    body = json.dumps({"query": mutation})
    for content_type, content in (
        ("text/plain", body),
        ("application/x-www-form-urlencoded", f"query={mutation}"),
        (
            "multipart/form-data; boundary=x",
            f'--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{mutation}\r\n--x--\r\n',
        ),
    ):
        response = await http.post(
            "/graphql", content=content, headers={**admin.headers, "content-type": content_type}
        )
        assert response.status_code == 400, (content_type, response.status_code)
    assert (await http.get("/products")).json() == []


# --- 21. CORS and Origin ------------------------------------------------------------------


async def test_21_cors_never_allows_a_foreign_origin_with_credentials_on_rest(
    http: httpx.AsyncClient, member: Account
) -> None:
    for method, path in (("GET", "/me"), ("POST", "/chat/rooms"), ("DELETE", "/files/1")):
        preflight = await http.options(
            path,
            headers={
                "origin": EVIL,
                "access-control-request-method": method,
                "access-control-request-headers": "authorization",
            },
        )
        assert preflight.headers.get("access-control-allow-origin") in {None, ""}
        assert preflight.headers.get("access-control-allow-credentials") != "true"
        actual = await http.get(path, headers={"origin": EVIL, **member.headers})
        assert actual.headers.get("access-control-allow-origin") is None


async def test_21_cors_never_allows_a_foreign_origin_with_credentials_on_graphql(
    http: httpx.AsyncClient, member: Account
) -> None:
    preflight = await http.options(
        "/graphql",
        headers={
            "origin": EVIL,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert preflight.headers.get("access-control-allow-origin") in {None, ""}
    response = await http.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"origin": EVIL, **member.headers}
    )
    assert response.headers.get("access-control-allow-origin") is None
    assert response.headers.get("access-control-allow-credentials") != "true"


async def test_21_browser_origins_are_checked_on_ws(service: Service, member: Account) -> None:
    headers = {**member.headers, "Origin": EVIL}
    assert await handshake_status(service.ws_url, headers) == 403
    # a client that is not a browser sends no Origin
    assert await handshake_status(service.ws_url, member.headers) == 101
    graphql_ws = service.http_url.replace("http://", "ws://", 1) + "/graphql"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            graphql_ws,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            additional_headers=headers,
        ):
            pass
    assert refused.value.response.status_code == 403


# --- 22. graphql-transport-ws -------------------------------------------------------------


async def _init(client: Any, account: Account) -> None:
    await client.send({"type": "connection_init", "payload": account.headers})
    assert (await client.receive())["type"] == "connection_ack"


async def test_22_graphql_transport_ws_protocol_errors_close_with_their_codes(
    service: Service, member: Account
) -> None:
    subscription = {"query": "subscription { directMessages { id } }"}

    async def never_init() -> int | None:
        async with subscriber(service) as client:
            try:
                await asyncio.wait_for(client.conn.recv(), 30)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
            return None

    # started first: the init timeout runs while the other cases do
    silent = asyncio.create_task(never_init())
    async with subscriber(service) as client:
        await client.send({"id": "1", "type": "subscribe", "payload": subscription})
        assert await client.close_code() == 4401
    async with subscriber(service) as client:
        await _init(client, member)
        await client.send({"type": "connection_init", "payload": member.headers})
        assert await client.close_code() == 4429
    async with subscriber(service) as client:
        await _init(client, member)
        for _ in range(2):
            await client.send({"id": "same", "type": "subscribe", "payload": subscription})
        assert await client.close_code() == 4409
    async with subscriber(service) as client:
        await client.send({"type": "connection_init", "payload": {"Authorization": "Bearer no"}})
        assert await client.close_code() == 4403
    assert await asyncio.wait_for(silent, 30) == 4408


async def test_22_the_older_graphql_ws_protocol_is_not_spoken(service: Service) -> None:
    url = service.http_url.replace("http://", "ws://", 1) + "/graphql"
    async with connect(url, subprotocols=["graphql-ws"]) as conn:  # type: ignore[list-item]
        assert await Subscriber(conn).close_code() == 4406
