"""Helpers shared by test modules: defined once here, imported where used."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tortoise import Tortoise
from websockets.asyncio.client import ClientConnection, connect

from resolvers import presence
from tests.conftest import Account
from tests.harness import METRICS_TOKEN, TEST_SECRET, Service

if TYPE_CHECKING:
    from tests.authz_world import World
    from tests.conftest import Account
    from tests.harness import Service

# --- authentication ----------------------------------------------------------------

LOGIN_EP = "mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"


def b64url(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hmac_signed(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A correct HS256 signature under a header that says otherwise."""
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    digest = hmac.new(TEST_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def forged_tokens(valid: str) -> dict[str, str]:
    """Variants of a valid access token that must all be refused."""
    claims: dict[str, Any] = jwt.decode(valid, options={"verify_signature": False})
    now = int(time.time())

    def signed(changes: dict[str, Any], drop: str | None = None, **kwargs: Any) -> str:
        payload = {**claims, **changes}
        if drop:
            del payload[drop]
        key = kwargs.pop("key", TEST_SECRET)
        return jwt.encode(payload, key, algorithm=kwargs.pop("algorithm", "HS256"))

    return {
        "alg none": f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims)}.",
        "alg None, signed": hmac_signed({"alg": "None", "typ": "JWT"}, claims),
        "wrong key": signed({}, key="another-secret-" + "y" * 60),
        "RS256 header over an HMAC": hmac_signed({"alg": "RS256", "typ": "JWT"}, claims),
        "HS512": signed({}, algorithm="HS512"),
        "expired beyond the leeway": signed({"exp": now - 60, "iat": now - 960, "nbf": now - 960}),
        "nbf in the future": signed({"nbf": now + 120}),
        # Issue 11 finding 14: no datetime holds these; once a 500.
        "exp 1e20": signed({"exp": 1e20}),
        "exp 10**20": signed({"exp": 10**20}),
        "no exp": signed({}, drop="exp"),
        "no sub": signed({}, drop="sub"),
        "sub of another user": signed({"sub": str(int(claims["sub"]) + 1)}),
        "wrong aud": signed({"aud": "someone-else"}),
        "wrong iss": signed({"iss": "someone-else"}),
        "garbage": "not.a.jwt",
    }


async def past_the_grace_window(service: Service) -> None:
    await asyncio.sleep(service.settings.refresh_grace_seconds + 1.1)


LONG_PASSWORDS = ["a" * 73, "é" * 37, "🔑" * 19]  # 73, 74 and 76 bytes in UTF-8


# --- authorization (the world of tests/authz_world.py) ------------------------------

MISSING_ROOM = "no-such-room"


async def owner_history(world: World) -> list[int]:
    response = await world.http.get(
        f"/chat/rooms/{world.room}/messages", headers=world.owner.headers
    )
    assert response.status_code == 200
    return [m["id"] for m in response.json()]


# --- origins -------------------------------------------------------------------------

EVIL = "https://evil.example.net"


# --- one public room, "ledger" (the ``pair`` fixture creates it) ----------------------

LEDGER = "ledger"


SEND_KEYED = (
    "mutation ($r: String!, $c: String!, $k: String) "
    "{ sendMessage(room: $r, content: $c, clientId: $k) { id } }"
)


async def rest_history(http: httpx.AsyncClient, account: Account, after: int = 0) -> list[int]:
    response = await http.get(
        f"/chat/rooms/{LEDGER}/messages",
        params={"after": after, "limit": 100},
        headers=account.headers,
    )
    assert response.status_code == 200
    return [m["id"] for m in response.json()]


async def gql_data(
    http: httpx.AsyncClient, account: Account, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=account.headers
    )
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


# --- links ---------------------------------------------------------------------------

BAD_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "file:///etc/passwd",
    "data:text/html,<script>alert(1)</script>",
    "ftp://example.com/x",
    "gopher://127.0.0.1:6379/_INFO",
    "//evil.example.net/x",
    "http://user:secret@example.com/",
    "http:///nohost",
]


async def listener() -> tuple[asyncio.Server, list[int]]:
    """A TCP server that counts connections: the server must never open one."""
    hits: list[int] = []

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hits.append(1)
        writer.close()

    server = await asyncio.start_server(count, "127.0.0.1", 0)
    return server, hits


PROTOCOL = "graphql-transport-ws"


TIMEOUT = 10


ROOM_MESSAGES = """
subscription ($room: String!, $after: ID) {
  roomMessages(room: $room, after: $after) {
    id content clientId createdAt
    room { id name }
    author { id displayName email }
  }
}
"""


def ws_url(service: Service) -> str:
    return service.http_url.replace("http://", "ws://", 1) + "/graphql"


@dataclasses.dataclass
class Client:
    """A bare graphql-transport-ws client."""

    conn: ClientConnection

    async def send(self, message: dict[str, Any]) -> None:
        await self.conn.send(json.dumps(message))

    async def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.conn.recv(), timeout)
        message: dict[str, Any] = json.loads(raw)
        if message.get("type") == "ping":
            await self.send({"type": "pong"})
            return await self.receive()
        return message

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any]) -> None:
        await self.send(
            {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )

    async def next_data(self, op_id: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        message = await self.receive(timeout)
        assert message["id"] == op_id, message
        assert message["type"] == "next", message
        assert not message["payload"].get("errors"), message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def nothing_within(self, seconds: float) -> bool:
        try:
            message = await asyncio.wait_for(self.conn.recv(), seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message {message!r}")


@asynccontextmanager
async def ws_client(
    service: Service, token: str | None, *, init: bool = True
) -> AsyncIterator[Client]:
    async with connect(ws_url(service), subprotocols=[PROTOCOL]) as conn:  # type: ignore[list-item]
        client = Client(conn)
        if init:
            payload = {"Authorization": f"Bearer {token}"} if token else {}
            await client.send({"type": "connection_init", "payload": payload})
            ack = await client.receive()
            assert ack["type"] == "connection_ack", ack
        yield client


async def make_room(
    http: httpx.AsyncClient, owner: Account, name: str, private: bool = False
) -> int:
    response = await http.post(
        "/chat/rooms", json={"name": name, "is_private": private}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    room_id: int = response.json()["id"]
    return room_id


async def rest_post(http: httpx.AsyncClient, who: Account | str, room: object, content: str) -> int:
    """Post to a room as ``who`` (an account, or a bare access token); its id."""
    headers = who.headers if isinstance(who, Account) else {"Authorization": f"Bearer {who}"}
    response = await http.post(
        f"/chat/rooms/{room}/messages", json={"content": content}, headers=headers
    )
    assert response.status_code == 201, response.text
    message_id: int = response.json()["id"]
    return message_id


async def rest_sync(http: httpx.AsyncClient, who: Account, since: str | None) -> dict[str, Any]:
    """``GET /chat/sync`` from ``since`` (None: from the start)."""
    params = {"since": since} if since is not None else {}
    response = await http.get("/chat/sync", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def rest_dm(http: httpx.AsyncClient, who: Account, to: int, content: str) -> int:
    response = await http.post(f"/chat/dm/{to}", json={"content": content}, headers=who.headers)
    assert response.status_code == 201, response.text
    mid: int = response.json()["id"]
    return mid


async def gql_join(http: httpx.AsyncClient, who: Account, room: str) -> None:
    response = await http.post(
        "/graphql",
        json={
            "query": "mutation ($r: String!) { joinRoom(room: $r) { id } }",
            "variables": {"r": room},
        },
        headers=who.headers,
    )
    assert not response.json().get("errors"), response.text


async def subscribe_live(
    http: httpx.AsyncClient, client: Client, op_id: str, who: Account, room: object
) -> None:
    """Subscribe to a room; return once live messages are sure to arrive.

    A marker posted first comes back through the replay, which only runs once
    the pub/sub subscription is in place: anything posted afterwards is live.
    """
    marker = await rest_post(http, who, room, "marker")
    await client.subscribe(op_id, ROOM_MESSAGES, {"room": str(room), "after": str(marker - 1)})
    assert (await client.next_data(op_id))["roomMessages"]["id"] == str(marker)


class QueryCounter:
    """Counts the SQL statements this process runs from now on (``count``,
    which a test may reset to 0; ``statements`` keeps them). The connection
    *class* is patched, so the connections of transactions count too (on
    PostgreSQL each is a connection of its own). The presence tasks that run
    in the background of every process (:data:`resolvers.presence.BACKGROUND_TASKS`)
    are left out unless ``background``; ``startswith`` counts only the
    statements that begin so (say, one kind of UPDATE)."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, *, startswith: str = "", background: bool = False
    ) -> None:
        self.count = 0
        self.statements: list[str] = []
        self.startswith = startswith
        self.background = background
        cls = type(Tortoise.get_connection("default"))
        for name in ("execute_query", "execute_query_dict"):
            monkeypatch.setattr(cls, name, self._counting(getattr(cls, name)))

    def _counts(self, query: str) -> bool:
        if not query.lstrip().startswith(self.startswith):
            return False
        if self.background:
            return True
        task = asyncio.current_task()
        return task is None or task.get_name() not in presence.BACKGROUND_TASKS

    def _counting(self, original: Any) -> Any:
        async def counting(connection: Any, query: str, values: Any = None) -> Any:
            if self._counts(query):
                self.count += 1
                self.statements.append(query)
            return await original(connection, query, values)

        return counting


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples.get((metric, tuple(sorted(labels.items()))), 0.0)


async def bcrypt_checks(http: httpx.AsyncClient) -> float:
    """Password checks bcrypt has run in the service so far (``/metrics``)."""
    return value(await scrape(http), "comptoir_bcrypt_runs_total", kind="check")
