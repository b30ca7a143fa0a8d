"""Authentication through the REST compatibility paths."""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
import time
from typing import Any

import httpx
import jwt
import pytest

from tests.account_helpers import bearer
from tests.conftest import PASSWORD, Account, MakeAccount
from tests.harness import TEST_SECRET, Service
from tests.helpers import (
    LONG_PASSWORDS,
    forged_tokens,
)
from tests.ws_helpers import chat_client, close_code, request


async def test_login_returns_a_token_pair(http: httpx.AsyncClient, member: Account) -> None:
    response = await http.post("/login", json={"email": member.email, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    claims = jwt.decode(
        body["access_token"], TEST_SECRET, algorithms=["HS256"], audience="comptoir"
    )
    assert claims["sub"] == str(member.id)
    assert {"exp", "iat", "jti", "iss", "aud", "sid"} <= claims.keys()
    me = await http.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == member.email
    assert "password_hash" not in me.text


async def test_login_is_case_insensitive_on_email(http: httpx.AsyncClient, member: Account) -> None:
    response = await http.post("/login", json={"email": member.email.upper(), "password": PASSWORD})
    assert response.status_code == 200


async def test_wrong_password_and_unknown_email_look_the_same(
    http: httpx.AsyncClient, member: Account
) -> None:
    wrong = await http.post("/login", json={"email": member.email, "password": "not the one"})
    unknown = await http.post(
        "/login", json={"email": "nobody@example.com", "password": "whatever1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "UNAUTHENTICATED"
    assert wrong.headers["www-authenticate"] == "Bearer"


async def test_unknown_email_costs_a_password_check(
    http: httpx.AsyncClient, member: Account
) -> None:
    # Both failures run bcrypt; compare them in the same run, never to a constant.
    async def timed(email: str) -> float:
        start = time.perf_counter()
        await http.post("/login", json={"email": email, "password": "not the one"})
        return time.perf_counter() - start

    await timed("warmup@example.com")
    wrong = min([await timed(member.email) for _ in range(3)])
    unknown = min([await timed("nobody@example.com") for _ in range(3)])
    assert unknown > wrong * 0.3


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"{not json", {"content-type": "application/json"}, 422),
        (b"[1, 2]", {"content-type": "application/json"}, 422),
        (b'{"email": "a@b.co"}', {"content-type": "application/json"}, 422),
        (b'{"email": 5, "password": []}', {"content-type": "application/json"}, 401),
        (b"email=a&password=b", {"content-type": "application/x-www-form-urlencoded"}, 415),
        (b'{"email": "a@b.co", "password": "x"}', {"content-type": "text/plain"}, 415),
        (b"\xff\xfe", {"content-type": "application/json"}, 422),
        (b"[" * 10_000 + b"]" * 10_000, {"content-type": "application/json"}, 422),
    ],
)
async def test_malformed_login_bodies_are_client_errors(
    http: httpx.AsyncClient, content: bytes, headers: dict[str, str], status: int
) -> None:
    response = await http.post("/login", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] in {"BAD_USER_INPUT", "UNAUTHENTICATED"}


async def test_register_then_me(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/register",
        json={"email": "New@Example.com", "password": "longenough", "display_name": "New"},
    )
    assert response.status_code == 201
    token = response.json()["access_token"]
    me = (await http.get("/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me["email"] == "new@example.com"
    assert me["display_name"] == "New"
    assert me["role"] == "MEMBER"


async def test_register_ignores_role_in_body(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/register",
        json={"email": "sneaky@example.com", "password": "longenough", "role": "ADMIN", "id": 1},
    )
    assert response.status_code == 201
    me = await http.get(
        "/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["role"] == "MEMBER"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": "longenough"}, "email"),
        ({"email": "short@example.com", "password": "short"}, "password"),
        (
            {"email": "nul@example.com", "password": "longenough", "display_name": "a\x00b"},
            "displayName",
        ),
    ],
)
async def test_register_validation(
    http: httpx.AsyncClient, body: dict[str, str], field: str
) -> None:
    response = await http.post("/register", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_register_duplicate_email_conflicts(http: httpx.AsyncClient, member: Account) -> None:
    response = await http.post("/register", json={"email": member.email, "password": "longenough"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"


@pytest.mark.checklist(8, "rest")
async def test_refresh_rotates_and_reuse_revokes_the_family(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    first = await http.post("/refresh", json={"refresh_token": member.refresh_token})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != member.refresh_token
    # The spent token again, past the grace window for retries: refused, and
    # the whole family goes with it.
    await asyncio.sleep(service.settings.refresh_grace_seconds + 1.1)
    reuse = await http.post("/refresh", json={"refresh_token": member.refresh_token})
    assert reuse.status_code == 401
    after = await http.post("/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401
    me = await http.get("/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert me.status_code == 401
    assert (await http.get("/me", headers=member.headers)).status_code == 401
    # Another login (another family) is untouched.
    again = await http.post("/login", json={"email": member.email, "password": PASSWORD})
    assert again.status_code == 200


async def test_refresh_with_garbage_is_unauthenticated(http: httpx.AsyncClient) -> None:
    for token in ["nope", "00000000-0000-0000-0000-000000000000", 42]:
        response = await http.post("/refresh", json={"refresh_token": token})
        assert response.status_code == 401


async def test_logout_revokes_the_session(http: httpx.AsyncClient, member: Account) -> None:
    response = await http.post("/logout", json={"refresh_token": member.refresh_token})
    assert response.status_code == 204
    assert (
        await http.post("/refresh", json={"refresh_token": member.refresh_token})
    ).status_code == 401
    assert (await http.get("/me", headers=member.headers)).status_code == 401
    # Logging out twice is harmless.
    assert (
        await http.post("/logout", json={"refresh_token": member.refresh_token})
    ).status_code == 204


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(member: Account, **changes: object) -> dict[str, object]:
    claims = jwt.decode(member.token, TEST_SECRET, algorithms=["HS256"], audience="comptoir")
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def test_forged_tokens_are_refused(http: httpx.AsyncClient, member: Account) -> None:
    now = int(time.time())
    header, payload, signature = member.token.split(".")
    forged = {
        "alg none": _b64({"alg": "none", "typ": "JWT"}) + "." + payload + ".",
        "tampered payload": header + "." + _b64(_claims(member, sub="999")) + "." + signature,
        "wrong key": jwt.encode(_claims(member), "another-secret-" + "y" * 40, algorithm="HS256"),
        "HS512": jwt.encode(_claims(member), TEST_SECRET, algorithm="HS512"),
        "expired": jwt.encode(_claims(member, exp=now - 3600), TEST_SECRET, algorithm="HS256"),
        "not yet valid": jwt.encode(
            _claims(member, nbf=now + 3600), TEST_SECRET, algorithm="HS256"
        ),
        "no exp": jwt.encode(_claims(member, exp=None), TEST_SECRET, algorithm="HS256"),
        "no sub": jwt.encode(_claims(member, sub=None), TEST_SECRET, algorithm="HS256"),
        "wrong aud": jwt.encode(_claims(member, aud="other"), TEST_SECRET, algorithm="HS256"),
        "wrong iss": jwt.encode(_claims(member, iss="other"), TEST_SECRET, algorithm="HS256"),
        "garbage": "not.a.jwt",
    }
    for name, token in forged.items():
        response = await http.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.json()["error"]["code"] == "UNAUTHENTICATED", name
    assert (await http.get("/me", headers={"Authorization": "Basic abc"})).status_code == 401
    assert (await http.get("/me")).status_code == 401


async def test_a_token_accepted_before_is_refused_once_it_expires(
    http: httpx.AsyncClient, member: Account
) -> None:
    """A verified token is remembered (core.security), its expiry is not:
    each use checks it again, as the first did."""
    now = int(time.time())
    # Expired 9 s ago: still inside the 10 s leeway, for one or two seconds more.
    token = jwt.encode(_claims(member, exp=now - 9), TEST_SECRET, algorithm="HS256")
    assert (await http.get("/me", headers=bearer(token))).status_code == 200
    # The same claims under another signature are not the token remembered.
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    other = await http.get("/me", headers=bearer(f"{header}.{payload}.{flipped}"))
    assert other.status_code == 401
    assert (await http.get("/me", headers=bearer(token))).status_code == 200
    await asyncio.sleep(2.1)
    refused = await http.get("/me", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_failed_logins_are_rate_limited_per_email(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    victim = await make_account("victim@example.com")
    for _ in range(5):
        response = await http.post("/login", json={"email": victim.email, "password": "wrong pass"})
        assert response.status_code == 401
    blocked = await http.post("/login", json={"email": victim.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "RATE_LIMITED"
    assert int(blocked.headers["retry-after"]) >= 1
    # Another account from the same address is not locked out by it.
    other = await make_account("other@example.com")
    assert (
        await http.post("/login", json={"email": other.email, "password": PASSWORD})
    ).status_code == 200


async def test_failed_logins_are_rate_limited_per_address(http: httpx.AsyncClient) -> None:
    statuses = [
        (
            await http.post("/login", json={"email": f"u{i}@example.com", "password": "wrong pass"})
        ).status_code
        for i in range(31)
    ]
    assert statuses[:30] == [401] * 30
    assert statuses[30] == 429


async def _refresh_rest(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/refresh", json={"refresh_token": token})


@pytest.mark.checklist(7, "rest")
async def test_forged_tokens_are_401_on_rest(
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


@pytest.mark.checklist(8, "rest")
async def test_concurrent_refreshes_have_one_winner_whose_pair_all_get(
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


@pytest.mark.checklist(8, "rest")
async def test_a_retry_after_the_successor_was_used_revokes_the_family_on_rest(
    http: httpx.AsyncClient, member: Account
) -> None:
    pair = (await _refresh_rest(http, member.refresh_token)).json()
    newer = (await _refresh_rest(http, pair["refresh_token"])).json()
    # Within the window, but the pair it would give back is already spent.
    assert (await _refresh_rest(http, member.refresh_token)).status_code == 401
    assert (await http.get("/me", headers=bearer(newer["access_token"]))).status_code == 401
    assert (await _refresh_rest(http, newer["refresh_token"])).status_code == 401


@pytest.mark.checklist(9, "rest", "ws")
async def test_logout_revokes_and_closes_the_sessions_ws_with_4001_on_rest(
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


@pytest.mark.checklist(10, "rest")
async def test_unknown_email_and_wrong_password_look_alike_on_rest(
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
    ratio = statistics.median([t for *_, t in unknown]) / statistics.median([t for *_, t in wrong])
    assert 0.25 < ratio < 4


@pytest.mark.checklist(12, "rest")
async def test_passwords_over_72_bytes_are_422_on_rest(
    http: httpx.AsyncClient, member: Account
) -> None:
    for password in LONG_PASSWORDS:
        for path, email in (("/register", "long@example.com"), ("/login", member.email)):
            response = await http.post(path, json={"email": email, "password": password})
            assert response.status_code == 422, (path, len(password.encode()))
            assert response.json()["error"]["code"] == "BAD_USER_INPUT"
    exact = await http.post("/register", json={"email": "exact@example.com", "password": "b" * 72})
    assert exact.status_code == 201
