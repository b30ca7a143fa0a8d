"""Accounts made through the HTTP door, as a client makes them, for tests
that run the server in-process or in a process of its own."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import PASSWORD, Account


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(client: httpx.AsyncClient, email: str) -> tuple[int, str]:
    """A new account through POST /register: (user id, access token)."""
    account = await new_account(client, email)
    return account.id, account.token


async def new_account(client: httpx.AsyncClient, email: str) -> Account:
    """A new account through POST /register, with :data:`PASSWORD`."""
    response = await client.post("/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return await _signed_in(client, email, response.json())


async def logged_in(client: httpx.AsyncClient, email: str) -> Account:
    """An existing account with :data:`PASSWORD`, through POST /login."""
    response = await client.post("/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return await _signed_in(client, email, response.json())


async def _signed_in(client: httpx.AsyncClient, email: str, tokens: dict[str, Any]) -> Account:
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    me = await client.get("/me", headers=bearer(access))
    assert me.status_code == 200, me.text
    return Account(int(me.json()["id"]), email, PASSWORD, access, refresh)


def token_for(token: str, *, expires_in: float) -> str:
    """A token of the same user and session as ``token``, signed with the test
    secret, expiring ``expires_in`` seconds from now (negative: already expired)."""
    from datetime import UTC, datetime, timedelta

    import jwt

    from core.security import TokenCodec
    from tests.harness import TEST_SECRET

    claims = jwt.decode(token, options={"verify_signature": False})
    codec = TokenCodec(TEST_SECRET, claims["iss"], claims["aud"], ttl=60)
    now = datetime.now(UTC) + timedelta(seconds=expires_in) - timedelta(seconds=60)
    return codec.issue(int(claims["sub"]), uuid.UUID(claims["sid"]), now=now)
