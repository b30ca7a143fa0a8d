"""Security checklist 7-12 (authentication, API2), door by door."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import statistics
import time
from typing import Any

import httpx
import jwt

from tests.authz_world import subscriber
from tests.conftest import PASSWORD, Account, MakeAccount, error_codes
from tests.harness import TEST_SECRET, Service
from tests.ws_helpers import chat_client, close_code, handshake_status, request

ME = "{ me { id } }"
REFRESH = "mutation ($t: String!) { refreshTokens(refreshToken: $t) { accessToken refreshToken } }"
LOGOUT = "mutation ($t: String!) { logout(refreshToken: $t) }"
LOGIN = "mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
REGISTER = (
    "mutation ($e: String!, $p: String!) "
    "{ register(input: {email: $e, password: $p}) { accessToken } }"
)


# --- 7. forged tokens ------------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _hmac_signed(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A correct HS256 signature under a header that says otherwise."""
    signing_input = f"{_b64(header)}.{_b64(claims)}"
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
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "alg None, signed": _hmac_signed({"alg": "None", "typ": "JWT"}, claims),
        "wrong key": signed({}, key="another-secret-" + "y" * 60),
        "RS256 header over an HMAC": _hmac_signed({"alg": "RS256", "typ": "JWT"}, claims),
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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_07_forged_tokens_are_401_on_rest(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    member = await make_account()
    await make_account()
    assert (await http.get("/me", headers=member.headers)).status_code == 200
    for name, token in forged_tokens(member.token).items():
        response = await http.get("/me", headers=bearer(token))
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
        assert response.json()["error"]["code"] == "UNAUTHENTICATED", name


async def test_07_forged_tokens_are_401_on_graphql(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    member = await make_account()
    await make_account()
    ok = await http.post("/graphql", json={"query": ME}, headers=member.headers)
    assert ok.json() == {"data": {"me": {"id": str(member.id)}}}
    for name, token in forged_tokens(member.token).items():
        response = await http.post("/graphql", json={"query": ME}, headers=bearer(token))
        assert response.status_code == 401, name
        assert error_codes(response.json()) == ["UNAUTHENTICATED"], name


async def test_07_forged_tokens_are_refused_on_ws_handshakes(
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


# --- 8. refresh rotation -------------------------------------------------------------


async def _refresh_rest(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/refresh", json={"refresh_token": token})


async def _past_the_grace_window(service: Service) -> None:
    await asyncio.sleep(service.settings.refresh_grace_seconds + 1.1)


async def test_08_a_spent_refresh_token_revokes_its_family_on_rest(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    first = await _refresh_rest(http, member.refresh_token)
    assert first.status_code == 200
    pair = first.json()
    # When the spent token is presented again, after the grace window
    await _past_the_grace_window(service)
    reused = await _refresh_rest(http, member.refresh_token)
    assert reused.status_code == 401
    # Then the whole family is revoked: the newer refresh and access tokens too
    assert (await _refresh_rest(http, pair["refresh_token"])).status_code == 401
    assert (await http.get("/me", headers=bearer(pair["access_token"]))).status_code == 401
    assert (await http.get("/me", headers=member.headers)).status_code == 401


async def test_08_concurrent_refreshes_have_one_winner_whose_pair_all_get_on_rest(
    http: httpx.AsyncClient, member: Account
) -> None:
    # Issue 11 finding 9: one rotation wins; concurrent retries within the
    # grace window get the winner's pair instead of revoking it.
    for _ in range(3):
        login = await http.post("/login", json={"email": member.email, "password": PASSWORD})
        token = login.json()["refresh_token"]
        responses = await asyncio.gather(*(_refresh_rest(http, token) for _ in range(8)))
        assert [r.status_code for r in responses] == [200] * 8
        pairs = {json.dumps(r.json(), sort_keys=True) for r in responses}
        assert len(pairs) == 1
        pair = responses[0].json()
        assert pair["refresh_token"] != token
        assert (await http.get("/me", headers=bearer(pair["access_token"]))).status_code == 200
        # The winner's pair rotates on as usual.
        assert (await _refresh_rest(http, pair["refresh_token"])).status_code == 200


async def test_08_a_retry_after_the_successor_was_used_revokes_the_family_on_rest(
    http: httpx.AsyncClient, member: Account
) -> None:
    pair = (await _refresh_rest(http, member.refresh_token)).json()
    newer = (await _refresh_rest(http, pair["refresh_token"])).json()
    # Within the window, but the pair it would give back is already spent.
    assert (await _refresh_rest(http, member.refresh_token)).status_code == 401
    assert (await http.get("/me", headers=bearer(newer["access_token"]))).status_code == 401
    assert (await _refresh_rest(http, newer["refresh_token"])).status_code == 401


async def test_08_refresh_rotation_and_reuse_on_graphql(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    async def refresh(token: str) -> dict[str, Any]:
        response = await http.post("/graphql", json={"query": REFRESH, "variables": {"t": token}})
        body: dict[str, Any] = response.json()
        return body

    login = await http.post("/login", json={"email": member.email, "password": PASSWORD})
    token = login.json()["refresh_token"]
    bodies = await asyncio.gather(*(refresh(token) for _ in range(4)))
    assert all(not b.get("errors") for b in bodies), bodies
    assert len({json.dumps(b, sort_keys=True) for b in bodies}) == 1

    pair = (await refresh(member.refresh_token))["data"]["refreshTokens"]
    await _past_the_grace_window(service)
    assert error_codes(await refresh(member.refresh_token)) == ["UNAUTHENTICATED"]
    assert error_codes(await refresh(pair["refreshToken"])) == ["UNAUTHENTICATED"]
    me = await http.post("/graphql", json={"query": ME}, headers=bearer(pair["accessToken"]))
    assert me.status_code == 401


# --- 9. logout -----------------------------------------------------------------------


async def test_09_logout_revokes_and_closes_the_sessions_ws_with_4001_on_rest(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    other_session = await http.post("/login", json={"email": member.email, "password": PASSWORD})
    other_token = other_session.json()["access_token"]
    async with (
        chat_client(service.ws_url, member.token) as doomed,
        chat_client(service.ws_url, other_token) as survivor,
    ):
        response = await http.post("/logout", json={"refresh_token": member.refresh_token})
        assert response.status_code == 204
        assert await close_code(doomed) == 4001
        assert (await request(survivor, {"type": "room_history", "room": "x"}))["type"] == "error"
    assert (await http.get("/me", headers=member.headers)).status_code == 401
    assert (await _refresh_rest(http, member.refresh_token)).status_code == 401
    assert (await http.get("/me", headers=bearer(other_token))).status_code == 200


async def test_09_logout_revokes_and_ends_subscriptions_on_graphql(
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
            "/graphql", json={"query": LOGOUT, "variables": {"t": member.refresh_token}}
        )
        assert body.json() == {"data": {"logout": True}}
        ended = await client.receive()
        errors = ended["payload"] if ended["type"] == "error" else ended["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["UNAUTHENTICATED"]
        assert await close_code(ws) == 4001
    me = await http.post("/graphql", json={"query": ME}, headers=member.headers)
    assert me.status_code == 401


async def test_09_a_revoked_token_cannot_open_ws(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    await http.post("/logout", json={"refresh_token": member.refresh_token})
    assert await handshake_status(service.ws_url, member.headers) == 401
    assert await handshake_status(f"{service.ws_url}/?token={member.token}") == 401


# --- 10. unknown email vs wrong password ----------------------------------------------


def _median_seconds(samples: list[float]) -> float:
    return statistics.median(samples)


async def test_10_unknown_email_and_wrong_password_look_alike_on_rest(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    accounts = [await make_account(), await make_account()]

    async def attempt(email: str) -> tuple[int, Any, float]:
        start = time.perf_counter()
        response = await http.post("/login", json={"email": email, "password": "not the one"})
        return response.status_code, response.json(), time.perf_counter() - start

    await attempt("warmup@example.com")
    wrong = [await attempt(accounts[n % 2].email) for n in range(4)]
    unknown = [await attempt(f"nobody{n}@example.com") for n in range(4)]
    assert {(s, json.dumps(b)) for s, b, _ in wrong + unknown} == {(401, json.dumps(wrong[0][1]))}
    ratio = _median_seconds([t for *_, t in unknown]) / _median_seconds([t for *_, t in wrong])
    assert 0.25 < ratio < 4


async def test_10_unknown_email_and_wrong_password_look_alike_on_graphql(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    accounts = [await make_account(), await make_account()]

    async def attempt(email: str) -> tuple[int, Any, float]:
        start = time.perf_counter()
        response = await http.post(
            "/graphql", json={"query": LOGIN, "variables": {"e": email, "p": "not the one"}}
        )
        return response.status_code, response.json(), time.perf_counter() - start

    await attempt("warmup@example.com")
    wrong = [await attempt(accounts[n % 2].email) for n in range(4)]
    unknown = [await attempt(f"nobody{n}@example.com") for n in range(4)]
    assert len({(s, json.dumps(b)) for s, b, _ in wrong + unknown}) == 1
    assert error_codes(wrong[0][1]) == ["UNAUTHENTICATED"]
    ratio = _median_seconds([t for *_, t in unknown]) / _median_seconds([t for *_, t in wrong])
    assert 0.25 < ratio < 4


# --- 11. login throttling ---------------------------------------------------------------


async def test_11_failed_logins_are_throttled_per_account_and_address_on_rest(
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


async def test_11_failed_logins_are_throttled_per_account_and_address_on_graphql(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    settings = service.settings

    async def login(email: str, password: str) -> dict[str, Any]:
        response = await http.post(
            "/graphql", json={"query": LOGIN, "variables": {"e": email, "p": password}}
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


# --- 12. passwords over 72 bytes --------------------------------------------------------

LONG_PASSWORDS = ["a" * 73, "é" * 37, "🔑" * 19]  # 73, 74 and 76 bytes in UTF-8


async def test_12_passwords_over_72_bytes_are_422_on_rest(
    http: httpx.AsyncClient, member: Account
) -> None:
    for password in LONG_PASSWORDS:
        for path, email in (("/register", "long@example.com"), ("/login", member.email)):
            response = await http.post(path, json={"email": email, "password": password})
            assert response.status_code == 422, (path, len(password.encode()))
            assert response.json()["error"]["code"] == "BAD_USER_INPUT"
    exact = await http.post("/register", json={"email": "exact@example.com", "password": "b" * 72})
    assert exact.status_code == 201


async def test_12_passwords_over_72_bytes_are_bad_input_on_graphql(
    http: httpx.AsyncClient, member: Account
) -> None:
    for password in LONG_PASSWORDS:
        for query, email in ((REGISTER, "long@example.com"), (LOGIN, member.email)):
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
