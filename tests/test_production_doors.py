"""Production mode on every door (security checklist 19): no schema, no GraphiQL,
no stack trace, SQL or path in any error.

Production mode runs in a server process of its own (``DEMO=0`` and
GraphiQL/introspection left to their defaults), started once for the module.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.account_helpers import register
from tests.conftest import error_codes
from tests.harness import scratch_database
from tests.process_helpers import process_env, server_process
from tests.ws_helpers import chat_client, request

pytestmark = pytest.mark.slow

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


@pytest.mark.checklist(19, "graphql")
async def test_production_graphql_hides_schema_and_internals(production: Production) -> None:
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


@pytest.mark.checklist(19, "rest")
async def test_production_rest_errors_show_no_internals(production: Production) -> None:
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


@pytest.mark.checklist(19, "ws")
async def test_production_ws_errors_show_no_internals(production: Production) -> None:
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
