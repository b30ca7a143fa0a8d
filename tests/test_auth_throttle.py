"""Issue 11, finding 4: nobody can lock an account out, and guesses are
counted before the password is hashed.

Other client addresses are real: the test clients bind 127.0.0.2,
127.0.0.3... (all of 127/8 is loopback), so the server sees another peer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from resolvers import login_guard
from tests.conftest import PASSWORD, Account, error_codes
from tests.harness import Service
from tests.helpers import LOGIN_EP

LOGIN = "mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"


@asynccontextmanager
async def client_from(service: Service, host: int) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose requests come from 127.0.0.``host``."""
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{host}")
    async with service.client(transport=transport) as client:
        yield client


async def rest_login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/login", json={"email": email, "password": password})


async def graphql_login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": LOGIN, "variables": {"e": email, "p": password}}
    )
    body: dict[str, Any] = response.json()
    return body


async def test_failures_from_one_address_do_not_lock_the_owner_out_on_rest(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    for _ in range(service.settings.login_max_failures):
        assert (await rest_login(http, member.email, "wrong guess")).status_code == 401
    # The guessing address is locked out of this account...
    locked = await rest_login(http, member.email, PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "RATE_LIMITED"
    assert locked.json()["error"]["message"] == login_guard.TOO_MANY_FAILURES
    # ...the owner, from another address, is not.
    async with client_from(service, 2) as owner:
        right = await rest_login(owner, member.email, PASSWORD)
        assert right.status_code == 200, right.text
        assert (await owner.get("/me", headers=member.headers)).status_code == 200


async def test_failures_from_one_address_do_not_lock_the_owner_out_on_graphql(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    for _ in range(service.settings.login_max_failures):
        assert error_codes(await graphql_login(http, member.email, "wrong guess")) == [
            "UNAUTHENTICATED"
        ]
    assert error_codes(await graphql_login(http, member.email, PASSWORD)) == ["RATE_LIMITED"]
    async with client_from(service, 3) as owner:
        body = await graphql_login(owner, member.email, PASSWORD)
        assert not body.get("errors"), body
        assert body["data"]["login"]["accessToken"]


async def test_an_account_attacked_from_many_addresses_is_slowed_not_locked(
    service: Service, member: Account
) -> None:
    settings = service.settings
    per_address = settings.login_max_failures - 1
    addresses = -(-settings.login_email_slow_after // per_address)  # ceil
    for n in range(addresses):
        async with client_from(service, 10 + n) as attacker:
            for _ in range(per_address):
                response = await rest_login(attacker, member.email, "wrong guess")
                assert response.status_code in {401, 429}
    async with client_from(service, 9) as owner:
        # Attempts on the account are now spaced out: of two at once, one waits...
        first, second = await asyncio.gather(
            rest_login(owner, member.email, "wrong again"),
            rest_login(owner, member.email, "wrong again"),
        )
        assert sorted([first.status_code, second.status_code]) == [401, 429]
        waited = first if first.status_code == 429 else second
        assert waited.json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(waited.headers["retry-after"]) <= settings.login_email_slow_seconds
        # ...but the owner gets in once the short interval has passed.
        await asyncio.sleep(settings.login_email_slow_seconds + 0.1)
        right = await rest_login(owner, member.email, PASSWORD)
        assert right.status_code == 200, right.text


async def test_concurrent_guesses_from_one_address_are_counted_before_hashing(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    settings = service.settings
    guesses = [
        rest_login(http, f"guess{n}@example.com", "wrong guess")
        for n in range(settings.login_ip_max_failures + 18)
    ]
    responses = await asyncio.gather(*guesses)
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {401, 429}
    # Only admitted attempts reach the password check: at most the address's
    # budget, and never more at once than its concurrency.
    assert statuses.count(401) <= settings.login_ip_max_failures
    assert statuses.count(429) >= len(guesses) - settings.login_ip_max_failures
    for response in responses:
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) >= 1
    # Another user, from another address, is served.
    async with client_from(service, 4) as other:
        assert (await rest_login(other, member.email, PASSWORD)).status_code == 200


async def test_concurrent_guesses_on_graphql_are_counted_before_hashing(
    service: Service, http: httpx.AsyncClient
) -> None:
    settings = service.settings
    count = settings.login_ip_max_failures + 18
    bodies = await asyncio.gather(
        *(graphql_login(http, f"g{n}@example.com", "wrong guess") for n in range(count))
    )
    codes = [code for body in bodies for code in error_codes(body)]
    assert len(codes) == count
    assert set(codes) <= {"UNAUTHENTICATED", "RATE_LIMITED"}
    assert codes.count("UNAUTHENTICATED") <= settings.login_ip_max_failures


@pytest.mark.checklist(11, "rest")
async def test_failed_logins_are_throttled_per_account_and_address_on_rest(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    settings = service.settings
    for _ in range(settings.login_max_failures):
        wrong = await http.post("/login", json={"email": member.email, "password": "nope nope"})
        assert wrong.status_code == 401
    # the right password no longer gets in, for a while
    right = await http.post("/login", json={"email": member.email, "password": PASSWORD})
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) >= 1
    assert right.json()["error"]["code"] == "RATE_LIMITED"
    # per address: many accounts guessed from one address
    for n in range(settings.login_ip_max_failures):
        response = await http.post(
            "/login", json={"email": f"guess{n}@example.com", "password": "nope nope"}
        )
        if response.status_code == 429:
            break
    fresh = await http.post("/login", json={"email": "fresh@example.com", "password": "nope"})
    assert fresh.status_code == 429
    assert int(fresh.headers["retry-after"]) >= 1


@pytest.mark.checklist(11, "graphql")
async def test_failed_logins_are_throttled_per_account_and_address_on_graphql(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    settings = service.settings

    async def login(email: str, password: str) -> dict[str, Any]:
        response = await http.post(
            "/graphql", json={"query": LOGIN_EP, "variables": {"e": email, "p": password}}
        )
        body: dict[str, Any] = response.json()
        return body

    for _ in range(settings.login_max_failures):
        assert error_codes(await login(member.email, "nope nope")) == ["UNAUTHENTICATED"]
    limited = await login(member.email, PASSWORD)
    assert error_codes(limited) == ["RATE_LIMITED"]
    assert limited["errors"][0]["extensions"]["retryAfterMs"] > 0
    for n in range(settings.login_ip_max_failures):
        if error_codes(await login(f"guess{n}@example.com", "nope nope")) == ["RATE_LIMITED"]:
            break
    assert error_codes(await login("fresh@example.com", "nope nope")) == ["RATE_LIMITED"]
