"""Authentication through GraphQL."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import PASSWORD, Account, GraphQL, data_of, error_codes
from tests.harness import Service

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


async def test_refresh_rotation_and_reuse(
    service: Service, graphql: GraphQL, member: Account
) -> None:
    rotated = data_of(await graphql(REFRESH, {"t": member.refresh_token}))["refreshTokens"]
    # Within the grace window a retry gets the same pair; after it, reuse revokes.
    again = data_of(await graphql(REFRESH, {"t": member.refresh_token}))["refreshTokens"]
    assert again == rotated
    await asyncio.sleep(service.settings.refresh_grace_seconds + 1.1)
    assert error_codes(await graphql(REFRESH, {"t": member.refresh_token})) == ["UNAUTHENTICATED"]
    assert error_codes(await graphql(REFRESH, {"t": rotated["refreshToken"]})) == [
        "UNAUTHENTICATED"
    ]


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
