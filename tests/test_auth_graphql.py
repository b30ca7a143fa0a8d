"""Authentication through GraphQL."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import httpx
import pytest

from tests.account_helpers import bearer
from tests.authz_world import subscriber
from tests.conftest import PASSWORD, Account, GraphQL, MakeAccount, data_of, error_codes
from tests.harness import Service
from tests.helpers import (
    LOGIN_EP,
    LONG_PASSWORDS,
    forged_tokens,
    past_the_grace_window,
)
from tests.ws_helpers import chat_client, close_code

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    accessToken refreshToken tokenType expiresIn user { id email role }
  }
}
"""
REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken refreshToken user { email displayName role } }
}
"""
REFRESH = "mutation R($t: String!) { refreshTokens(refreshToken: $t) { accessToken refreshToken } }"
LOGOUT = "mutation L($t: String!) { logout(refreshToken: $t) }"
ME = "{ me { id email displayName role createdAt } }"


async def test_login_and_me(graphql: GraphQL, member: Account) -> None:
    payload = data_of(await graphql(LOGIN, {"email": member.email, "password": PASSWORD}))["login"]
    assert payload["tokenType"] == "bearer"
    assert payload["expiresIn"] == 900
    assert payload["user"] == {"id": str(member.id), "email": member.email, "role": "MEMBER"}
    me = data_of(await graphql(ME, token=payload["accessToken"]))["me"]
    assert me["email"] == member.email


async def test_me_is_null_when_anonymous(graphql: GraphQL) -> None:
    assert data_of(await graphql(ME)) == {"me": None}


async def test_login_failures(graphql: GraphQL, member: Account) -> None:
    wrong = await graphql(LOGIN, {"email": member.email, "password": "not the one"})
    unknown = await graphql(LOGIN, {"email": "nobody@example.com", "password": "not the one"})
    assert error_codes(wrong) == error_codes(unknown) == ["UNAUTHENTICATED"]
    assert wrong["errors"][0]["message"] == unknown["errors"][0]["message"]
    too_long = await graphql(LOGIN, {"email": member.email, "password": "x" * 100})
    assert error_codes(too_long) == ["BAD_USER_INPUT"]


async def test_register(graphql: GraphQL) -> None:
    data = data_of(
        await graphql(REGISTER, {"input": {"email": "g@example.com", "password": "longenough"}})
    )["register"]
    assert data["user"] == {"email": "g@example.com", "displayName": "g", "role": "MEMBER"}
    again = await graphql(REGISTER, {"input": {"email": "g@example.com", "password": "longenough"}})
    assert error_codes(again) == ["CONFLICT"]


async def test_logout(graphql: GraphQL, member: Account) -> None:
    assert data_of(await graphql(LOGOUT, {"t": member.refresh_token})) == {"logout": True}
    assert error_codes(await graphql(REFRESH, {"t": member.refresh_token})) == ["UNAUTHENTICATED"]


async def test_invalid_token_is_401_with_graphql_body(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/graphql", json={"query": ME}, headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_other_users_email_is_hidden(
    graphql: GraphQL, admin: Account, member: Account
) -> None:
    # A member sees only their own address; an ADMIN sees all.
    query = "{ me { email } }"
    assert data_of(await graphql(query, token=member.token))["me"]["email"] == member.email
    assert data_of(await graphql(query, token=admin.token))["me"]["email"] == admin.email


async def test_login_rate_limit_has_retry_after(graphql: GraphQL, member: Account) -> None:
    for _ in range(5):
        await graphql(LOGIN, {"email": member.email, "password": "wrong pass"})
    body = await graphql(LOGIN, {"email": member.email, "password": PASSWORD})
    assert error_codes(body) == ["RATE_LIMITED"]
    assert body["errors"][0]["extensions"]["retryAfterMs"] > 0


ME_ID = "{ me { id } }"


REFRESH_T = (
    "mutation ($t: String!) { refreshTokens(refreshToken: $t) { accessToken refreshToken } }"
)


LOGOUT_T = "mutation ($t: String!) { logout(refreshToken: $t) }"


REGISTER_EP = (
    "mutation ($e: String!, $p: String!) "
    "{ register(input: {email: $e, password: $p}) { accessToken } }"
)


@pytest.mark.checklist(7, "graphql")
async def test_forged_tokens_are_401_on_graphql(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    member = await make_account()
    await make_account()
    ok = await http.post("/graphql", json={"query": ME_ID}, headers=member.headers)
    assert ok.json() == {"data": {"me": {"id": str(member.id)}}}
    for name, token in forged_tokens(member.token).items():
        response = await http.post("/graphql", json={"query": ME_ID}, headers=bearer(token))
        assert response.status_code == 401, name
        assert error_codes(response.json()) == ["UNAUTHENTICATED"], name


@pytest.mark.checklist(8, "graphql")
async def test_refresh_rotation_and_reuse(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    async def refresh(token: str) -> dict[str, Any]:
        response = await http.post("/graphql", json={"query": REFRESH_T, "variables": {"t": token}})
        body: dict[str, Any] = response.json()
        return body

    login = await http.post("/login", json={"email": member.email, "password": PASSWORD})
    token = login.json()["refresh_token"]
    bodies = await asyncio.gather(*(refresh(token) for _ in range(4)))
    assert all(not b.get("errors") for b in bodies), bodies
    assert len({json.dumps(b, sort_keys=True) for b in bodies}) == 1

    pair = (await refresh(member.refresh_token))["data"]["refreshTokens"]
    # Within the grace window a retry gets the same pair; after it, reuse revokes.
    again = (await refresh(member.refresh_token))["data"]["refreshTokens"]
    assert again == pair
    await past_the_grace_window(service)
    assert error_codes(await refresh(member.refresh_token)) == ["UNAUTHENTICATED"]
    assert error_codes(await refresh(pair["refreshToken"])) == ["UNAUTHENTICATED"]
    me = await http.post("/graphql", json={"query": ME_ID}, headers=bearer(pair["accessToken"]))
    assert me.status_code == 401


@pytest.mark.checklist(9, "graphql")
async def test_logout_revokes_and_ends_subscriptions_on_graphql(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    async with subscriber(service) as client, chat_client(service.ws_url, member.token) as ws:
        await client.send({"type": "connection_init", "payload": member.headers})
        assert (await client.receive())["type"] == "connection_ack"
        await client.send(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "subscription { directMessages { id } }"},
            }
        )
        await asyncio.sleep(0.2)
        body = await http.post(
            "/graphql", json={"query": LOGOUT_T, "variables": {"t": member.refresh_token}}
        )
        assert body.json() == {"data": {"logout": True}}
        ended = await client.receive()
        errors = ended["payload"] if ended["type"] == "error" else ended["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["UNAUTHENTICATED"]
        assert await close_code(ws) == 4001
    me = await http.post("/graphql", json={"query": ME_ID}, headers=member.headers)
    assert me.status_code == 401


@pytest.mark.checklist(10, "graphql")
async def test_unknown_email_and_wrong_password_look_alike_on_graphql(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    accounts = [await make_account(), await make_account()]

    async def attempt(email: str) -> tuple[int, Any, float]:
        start = time.perf_counter()
        response = await http.post(
            "/graphql", json={"query": LOGIN_EP, "variables": {"e": email, "p": "not the one"}}
        )
        return response.status_code, response.json(), time.perf_counter() - start

    await attempt("warmup@example.com")
    wrong = [await attempt(accounts[n % 2].email) for n in range(4)]
    unknown = [await attempt(f"nobody{n}@example.com") for n in range(4)]
    assert len({(s, json.dumps(b)) for s, b, _ in wrong + unknown}) == 1
    assert error_codes(wrong[0][1]) == ["UNAUTHENTICATED"]
    ratio = statistics.median([t for *_, t in unknown]) / statistics.median([t for *_, t in wrong])
    assert 0.25 < ratio < 4


@pytest.mark.checklist(12, "graphql")
async def test_passwords_over_72_bytes_are_bad_input_on_graphql(
    http: httpx.AsyncClient, member: Account
) -> None:
    for password in LONG_PASSWORDS:
        for query, email in ((REGISTER_EP, "long@example.com"), (LOGIN_EP, member.email)):
            response = await http.post(
                "/graphql", json={"query": query, "variables": {"e": email, "p": password}}
            )
            assert response.status_code == 200
            assert error_codes(response.json()) == ["BAD_USER_INPUT"]
    # nothing was created: the address is still free
    created = await http.post(
        "/register", json={"email": "long@example.com", "password": "short enough"}
    )
    assert created.status_code == 201
