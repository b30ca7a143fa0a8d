"""Operating Comptoir: /metrics, request ids, access and security log lines."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from core import metrics
from tests.conftest import Account, MakeAccount
from tests.harness import is_postgres
from tests.helpers import scrape, value
from tests.process_server import serving_process

LOCKOUT_ATTEMPTS = 5


async def test_metrics_need_the_token(http: httpx.AsyncClient, member: Account) -> None:
    assert (await http.get("/metrics")).status_code == 401
    wrong = await http.get("/metrics", headers={"Authorization": "Bearer " + "x" * 34})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "UNAUTHENTICATED"
    # An account's access token is not the metrics token.
    user = await http.get("/metrics", headers={"Authorization": f"Bearer {member.token}"})
    assert user.status_code == 401


async def test_request_id_from_an_untrusted_peer_is_replaced(http: httpx.AsyncClient) -> None:
    # The session's server trusts no proxy: a client cannot choose its id.
    response = await http.get("/health", headers={"X-Request-ID": "chosen-by-client"})
    assert response.headers["x-request-id"] != "chosen-by-client"
    assert len(response.headers["x-request-id"]) >= 16


async def test_generated_request_ids_are_fresh_uuid4_hex(http: httpx.AsyncClient) -> None:
    # Made from random bytes with the version and variant bits set (no
    # UUID object per request): still what uuid.uuid4().hex gives.
    ids = {(await http.get("/health")).headers["x-request-id"] for _ in range(50)}
    assert len(ids) == 50
    for text in ids:
        parsed = uuid.UUID(hex=text)
        assert (parsed.hex, parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)


async def test_counters_move(http: httpx.AsyncClient, make_account: MakeAccount) -> None:
    account = await make_account("metrics@example.com")
    before = await scrape(http)

    assert (await http.get(f"/products/{999999}")).status_code == 404
    named = await http.post(
        "/graphql",
        json={"query": "query MetricsProbe { products(first: 1) { totalCount } }"},
        headers={"Authorization": f"Bearer {account.token}"},
    )
    assert named.status_code == 200, named.text
    bad = await http.post("/graphql", json={"query": "{ nope }"})
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    statuses = [
        (
            await http.post("/login", json={"email": account.email, "password": "wrong password"})
        ).status_code
        for _ in range(8)
    ]
    assert 429 in statuses, statuses

    after = await scrape(http)
    route = {"method": "GET", "route": "/products/{id}"}
    assert (
        value(after, "comptoir_http_requests_total", **route, status="404")
        == value(before, "comptoir_http_requests_total", **route, status="404") + 1
    )
    assert value(after, "comptoir_http_request_duration_seconds_count", **route) > value(
        before, "comptoir_http_request_duration_seconds_count", **route
    )
    # Operation names are a bounded label: past the cap, a new name counts as
    # the overflow label (the suite's earlier tests may have filled it).
    op = {"name": metrics.operation_label("MetricsProbe"), "type": "query"}
    assert value(after, "comptoir_graphql_operations_total", **op) == (
        value(before, "comptoir_graphql_operations_total", **op) + 1
    )
    assert value(after, "comptoir_graphql_errors_total", code="BAD_USER_INPUT") > value(
        before, "comptoir_graphql_errors_total", code="BAD_USER_INPUT"
    )
    hits = sum(
        v - before.get(key, 0.0)
        for key, v in after.items()
        if key[0] == "comptoir_rate_limit_hits_total" and dict(key[1])["kind"].startswith("login")
    )
    assert hits == statuses.count(429)
    # Logins ran through the bcrypt pool, and all of them are done.
    assert ("comptoir_bcrypt_queue_depth", ()) in after
    assert value(after, "comptoir_bcrypt_queue_depth") == 0
    if is_postgres(os.environ.get("DATABASE_URL", "")):
        assert value(after, "comptoir_db_pool_connections", state="open") >= 1


def _lines(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


@pytest.mark.slow
async def test_request_ids_and_json_access_lines(tmp_path: Path) -> None:
    env = {
        "DEMO": "0",
        "DATABASE_URL": f"sqlite://{tmp_path / 'ops.sqlite3'}",
        "BROADCAST_URL": "memory://",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
        "TRUSTED_PROXIES": "127.0.0.1",
        "LOGIN_MAX_FAILURES": "3",
    }
    async with serving_process(env, tmp_path) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            # From a trusted proxy, its id is kept and echoed.
            kept = await http.get("/products", headers={"X-Request-ID": "proxy-id-42"})
            assert kept.headers["x-request-id"] == "proxy-id-42"
            # Otherwise (or when it is no id) one is generated.
            made = await http.get("/products", headers={"X-Request-ID": "bad id <script>"})
            generated = made.headers["x-request-id"]
            assert generated
            assert "script" not in generated
            other = await http.get("/health")
            assert other.headers["x-request-id"] not in {generated, "proxy-id-42"}
            # No METRICS_TOKEN: the endpoint is off.
            assert (await http.get("/metrics")).status_code == 404
            register = await http.post(
                "/register", json={"email": "log@example.com", "password": "long enough pw"}
            )
            token = register.json()["access_token"]
            me = await http.get(
                "/me", headers={"Authorization": f"Bearer {token}", "X-Request-ID": "me-1"}
            )
            assert me.status_code == 200
            user_id = me.json()["id"]
            denied = await http.post(
                "/products",
                json={"name": "x", "price": "1.00", "stock": 1},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert denied.status_code == 403
            refresh = register.json()["refresh_token"]
            rotated = await http.post("/refresh", json={"refresh_token": refresh})
            successor = rotated.json()["refresh_token"]
            assert (await http.post("/refresh", json={"refresh_token": successor})).is_success
            # Spent, and not a retry (its successor was used): reuse revokes the family.
            reused = await http.post("/refresh", json={"refresh_token": refresh})
            assert reused.status_code == 401
            failures = [
                (
                    await http.post(
                        "/login", json={"email": "log@example.com", "password": "not the one"}
                    )
                ).status_code
                for _ in range(LOCKOUT_ATTEMPTS)
            ]
            assert failures[0] == 401
            assert failures[-1] == 429
        ws_url = url.replace("http://", "ws://") + "/graphql"
        async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            # Without a token the server closes with 4403: the code is logged.
            await ws.send(json.dumps({"type": "connection_init"}))
            with pytest.raises(ConnectionClosed):
                await ws.recv()
    # Read once the server stopped: every line is written.
    logs = _lines(next(tmp_path.glob("server-*.log")))
    access = [line for line in logs if line["logger"] == "comptoir.access"]
    me_line = next(line for line in access if line["request_id"] == "me-1")
    assert me_line["method"] == "GET"
    assert me_line["route"] == "/me"
    assert me_line["status"] == 200
    assert me_line["latency_ms"] >= 0
    assert str(me_line["user_id"]) == str(user_id)
    assert "time" in me_line
    assert any(line["request_id"] == "proxy-id-42" for line in access)
    security = [line for line in logs if line["logger"] == "comptoir.security"]
    events = {line.get("event") for line in security if line["level"] == "WARNING"}
    assert {"login failed", "login lockout", "refresh reuse", "denied"} <= events, security
    opened = [line for line in access if line["message"].startswith("websocket open /graphql")]
    closed = [line for line in access if line["message"].startswith("websocket close /graphql")]
    assert opened
    assert closed
    assert closed[0]["close_code"] == 4403
