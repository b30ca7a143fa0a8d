"""Helpers shared by test modules: defined once here, imported where used."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any

import httpx
import jwt

from tests.harness import TEST_SECRET

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
