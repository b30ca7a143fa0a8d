"""Chat connections follow their token: expiry, renewal with `auth`, logout."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.account_helpers import bearer, token_for
from tests.authz_world import subscriber
from tests.conftest import PASSWORD, Account, MakeAccount
from tests.harness import Service
from tests.helpers import forged_tokens
from tests.ws_helpers import chat_client, close_code, handshake_status, open_ws, recv, request


async def login(http: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    """A second session of the same account."""
    response = await http.post("/login", json={"email": account.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_expiring_token_closes_with_4001_unless_renewed(
    service: Service, member: Account
) -> None:
    short = token_for(member.token, expires_in=2)
    left = await open_ws(service.ws_url, short)
    renewed = await open_ws(service.ws_url, short)
    ready = await recv(left)
    assert ready["expires_at"]
    await recv(renewed)
    reply = await request(renewed, {"type": "auth", "token": member.token})
    assert reply["type"] == "ready"
    assert reply["user"]["id"] == member.id
    assert reply["expires_at"] > ready["expires_at"]
    # The server closes at `exp`, without the codec's 10 s leeway.
    assert await close_code(left, timeout=6) == 4001
    await asyncio.sleep(0.5)
    still = await request(renewed, {"type": "room_history", "room": "nowhere"})
    assert still["code"] == "NOT_FOUND"
    await renewed.close()


async def test_auth_with_a_bad_or_foreign_token_is_an_error_frame_and_changes_nothing(
    service: Service, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    async with chat_client(service.ws_url, alice.token) as ws:
        for token, code in (
            ("not-a-jwt", "UNAUTHENTICATED"),
            (token_for(alice.token, expires_in=-2), "UNAUTHENTICATED"),
            (alice.token[:-3] + "abc", "UNAUTHENTICATED"),
            (bob.token, "FORBIDDEN"),
        ):
            reply = await request(ws, {"type": "auth", "token": token})
            assert reply["type"] == "error", reply
            assert reply["code"] == code, reply
        again = await request(ws, {"type": "auth", "token": alice.token})
        assert again["type"] == "ready"
        assert again["user"]["id"] == alice.id


async def test_logout_closes_that_sessions_connections_with_4001(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    other = await login(http, member)
    async with chat_client(service.ws_url, other["access_token"]) as kept:
        first = await open_ws(service.ws_url, member.token)
        second = await open_ws(f"{service.ws_url}/?token={member.token}")
        await recv(first)
        await recv(second)
        response = await http.post("/logout", json={"refresh_token": member.refresh_token})
        assert response.status_code == 204
        assert await close_code(first) == 4001
        assert await close_code(second) == 4001
        # The other session goes on, and the revoked token opens nothing more.
        reply = await request(kept, {"type": "room_history", "room": "nowhere"})
        assert reply["code"] == "NOT_FOUND"
        assert await handshake_status(service.ws_url, bearer(member.token)) == 401


async def test_a_renewed_connection_follows_the_session_of_its_new_token(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    other = await login(http, member)
    ws = await open_ws(service.ws_url, member.token)
    witness = await open_ws(service.ws_url, member.token)  # stays on the first session
    await recv(ws)
    await recv(witness)
    renewed = await request(ws, {"type": "auth", "token": other["access_token"]})
    assert renewed["type"] == "ready"
    await http.post("/logout", json={"refresh_token": member.refresh_token})
    assert await close_code(witness) == 4001  # the revocation has been handled
    still = await request(ws, {"type": "room_history", "room": "nowhere"})
    assert still["code"] == "NOT_FOUND"
    await http.post("/logout", json={"refresh_token": other["refresh_token"]})
    assert await close_code(ws) == 4001


@pytest.mark.checklist(7, "ws")
async def test_forged_tokens_are_refused_on_ws_handshakes(
    service: Service, make_account: MakeAccount
) -> None:
    member = await make_account()
    await make_account()
    assert await handshake_status(service.ws_url, bearer(member.token)) == 101
    for name, token in forged_tokens(member.token).items():
        assert await handshake_status(service.ws_url, bearer(token)) == 401, name
        query_url = f"{service.ws_url}/?token={token}"
        assert await handshake_status(query_url) == 401, name
        async with subscriber(service) as client:
            await client.send({"type": "connection_init", "payload": bearer(token)})
            assert await client.close_code() == 4403, name


@pytest.mark.checklist(9, "ws")
async def test_a_revoked_token_cannot_open_ws(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    await http.post("/logout", json={"refresh_token": member.refresh_token})
    assert await handshake_status(service.ws_url, member.headers) == 401
    assert await handshake_status(f"{service.ws_url}/?token={member.token}") == 401
