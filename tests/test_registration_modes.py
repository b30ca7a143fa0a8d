"""Issue 11, finding 12: registration and account enumeration.

``REGISTRATION=closed`` removes the oracle: register is FORBIDDEN on every
door that has it, whatever was sent, and nothing is stored or counted.
With registration open (the seed contract), a taken email must answer
differently from a new one (a new one logs in at once), so what is tested
is that probing is bounded: a refusal is a failed attempt under login's
per-address throttle, every attempt spends one of ``REGISTER_IP_MAX``, and
a taken email and a new one go the same way through the hasher.

Other client addresses are real: clients bind 127.0.0.2, 127.0.0.3... (all
of 127/8 is loopback), so the server sees another peer.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import ConfigError, Registration, Settings
from resolvers import auth, login_guard, users
from tests.conftest import PASSWORD, OverrideSettings
from tests.harness import Service, scratch_database
from tests.process_server import serving_process

ROOT = Path(__file__).resolve().parent.parent
REGISTER = (
    "mutation ($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }"
)
LOGIN = "mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
NEW_PASSWORD = "a long enough password"


@asynccontextmanager
async def client_from(service: Service, host: int) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose requests come from 127.0.0.``host``."""
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{host}")
    async with service.client(transport=transport) as client:
        yield client


@dataclass(frozen=True)
class Answer:
    """A register (or login) answer, whichever door gave it."""

    code: str  # "OK" or the contract's error code
    message: str = ""
    field: str | None = None
    retry_after_ms: int | None = None


async def rest_register(
    http: httpx.AsyncClient, email: str, password: object = NEW_PASSWORD
) -> Answer:
    response = await http.post("/register", json={"email": email, "password": password})
    if response.status_code == 201:
        assert response.json()["access_token"]
        return Answer("OK")
    error = response.json()["error"]
    status = {403: "FORBIDDEN", 409: "CONFLICT", 422: "BAD_USER_INPUT", 429: "RATE_LIMITED"}
    assert status[response.status_code] == error["code"], response.text
    if response.status_code == 429:
        # The header and the body say the same wait.
        assert int(response.headers["retry-after"]) == -(-error["retry_after_ms"] // 1000)
    return Answer(error["code"], error["message"], error.get("field"), error.get("retry_after_ms"))


async def graphql_register(
    http: httpx.AsyncClient, email: str, password: object = NEW_PASSWORD
) -> Answer:
    variables = {"input": {"email": email, "password": password}}
    response = await http.post("/graphql", json={"query": REGISTER, "variables": variables})
    body: dict[str, Any] = response.json()
    if not body.get("errors"):
        assert body["data"]["register"]["accessToken"]
        return Answer("OK")
    [error] = body["errors"]
    ext = error["extensions"]
    return Answer(ext["code"], error["message"], ext.get("field"), ext.get("retryAfterMs"))


async def rest_login(http: httpx.AsyncClient, email: str, password: str) -> str:
    response = await http.post("/login", json={"email": email, "password": password})
    return "OK" if response.status_code == 200 else str(response.json()["error"]["code"])


async def graphql_login(http: httpx.AsyncClient, email: str, password: str) -> str:
    variables = {"e": email, "p": password}
    response = await http.post("/graphql", json={"query": LOGIN, "variables": variables})
    body = response.json()
    return str(body["errors"][0]["extensions"]["code"]) if body.get("errors") else "OK"


DOORS = {"rest": (rest_register, rest_login), "graphql": (graphql_register, graphql_login)}


async def taken_emails(count: int, prefix: str = "taken") -> list[str]:
    """The emails of ``count`` new accounts (made as operators do, not by register)."""
    emails = [f"{prefix}{n}@example.com" for n in range(count)]
    for email in emails:
        await users.create_user(email=email, password=PASSWORD)
    return emails


# --- REGISTRATION=closed ------------------------------------------------------------


@pytest.fixture
def closed(override_settings: OverrideSettings) -> None:
    override_settings(registration=Registration.CLOSED)


REFUSED_CLOSED = Answer("FORBIDDEN", auth.REGISTRATION_CLOSED)


@pytest.mark.parametrize("door", DOORS)
async def test_closed_registration_is_forbidden_whatever_is_sent(
    service: Service, http: httpx.AsyncClient, override_settings: OverrideSettings, door: str
) -> None:
    register, login = DOORS[door]
    override_settings(registration=Registration.CLOSED)
    [taken] = await taken_emails(1)
    # A new email, a taken one, a password too short or too long, no valid
    # input at all: refused alike, so nothing about the input or the accounts
    # is told.
    for email, password in [
        ("newcomer@example.com", NEW_PASSWORD),
        (taken, NEW_PASSWORD),
        ("newcomer@example.com", "short"),
        ("newcomer@example.com", "x" * 100),
        ("not an email", ""),
    ]:
        assert await register(http, email, password) == REFUSED_CLOSED, (email, password)
    # Nothing was stored: the new email has no account...
    assert await login(http, "newcomer@example.com", NEW_PASSWORD) == "UNAUTHENTICATED"
    # ...the taken one still has its own password only, and logs in.
    assert await login(http, taken, NEW_PASSWORD) == "UNAUTHENTICATED"
    assert await login(http, taken, PASSWORD) == "OK"
    # Nothing was counted either: more refusals than the address's budget of
    # registrations, then, reopened, the address registers at once.
    for n in range(service.settings.register_ip_max + 1):
        assert (await register(http, f"again{n}@example.com")).code == "FORBIDDEN"
    override_settings(registration=Registration.OPEN)
    assert (await register(http, "newcomer@example.com")).code == "OK"
    assert await login(http, "newcomer@example.com", NEW_PASSWORD) == "OK"


async def test_closed_rest_registration_refuses_before_reading_the_body(
    http: httpx.AsyncClient, closed: None
) -> None:
    for content, content_type in [
        (b"{not json", "application/json"),
        (b"email=a@example.com", "application/x-www-form-urlencoded"),
        (b"[]", "application/json"),
    ]:
        response = await http.post(
            "/register", content=content, headers={"Content-Type": content_type}
        )
        assert response.status_code == 403, content
        assert response.json()["error"] == {
            "code": "FORBIDDEN",
            "message": auth.REGISTRATION_CLOSED,
        }


async def test_closed_graphql_registration_refuses_every_alias(
    http: httpx.AsyncClient, closed: None
) -> None:
    query = (
        'mutation { a: register(input: {email: "a@example.com", password: "long enough pw"}) '
        '{ accessToken } b: register(input: {email: "b@example.com", password: "x"}) '
        "{ accessToken } }"
    )
    body = (await http.post("/graphql", json={"query": query})).json()
    assert body["data"] is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert {e["message"] for e in body["errors"]} == {auth.REGISTRATION_CLOSED}


async def test_the_descriptions_say_how_registration_closes(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    operation = spec["paths"]["/register"]["post"]
    assert operation["description"] == auth.REGISTRATION_RULE
    assert auth.REGISTRATION_CLOSED in operation["responses"]["403"]["description"]
    assert f"REGISTRATION={Registration.CLOSED}" in auth.REGISTRATION_RULE
    query = '{ __type(name: "Mutation") { fields { name description } } }'
    fields = (await http.post("/graphql", json={"query": query})).json()["data"]["__type"]
    [register] = [f for f in fields["fields"] if f["name"] == "register"]
    assert auth.REGISTRATION_RULE in register["description"]


@pytest.mark.once
def test_the_setting_is_open_or_closed_and_the_older_spelling_still_closes() -> None:
    def registration(**env: str) -> Registration:
        return Settings.from_env({"DEMO": "1", **env}).registration

    assert registration() is Registration.OPEN
    assert registration(REGISTRATION="closed") is Registration.CLOSED
    assert registration(REGISTRATION=" Open ") is Registration.OPEN
    assert registration(ALLOW_REGISTRATION="0") is Registration.CLOSED
    assert registration(ALLOW_REGISTRATION="0", REGISTRATION="closed") is Registration.CLOSED
    with pytest.raises(ConfigError, match="REGISTRATION must be open or closed"):
        registration(REGISTRATION="invite")
    with pytest.raises(ConfigError, match="disagree"):
        registration(ALLOW_REGISTRATION="0", REGISTRATION="open")


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "comptoir", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,  # against a hang only
    )


@pytest.mark.slow
async def test_a_closed_deployment_provisions_accounts_with_createuser(tmp_path: Path) -> None:
    """As operators run it: ``serve`` with REGISTRATION=closed, accounts made
    by ``python -m comptoir createuser`` against the same database."""
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as url:
        env = {"DATABASE_URL": url, "DEMO": "0", "REGISTRATION": "closed"}
        cli_env = {
            **{k: v for k, v in os.environ.items() if k not in {"JWT_SECRET", "MAKEFLAGS"}},
            **env,
            "BROADCAST_URL": "memory://",
            "BCRYPT_ROUNDS": "4",
            "DATA_DIR": str(tmp_path),
        }
        bad = await asyncio.to_thread(_cli, "migrate", env={**cli_env, "REGISTRATION": "maybe"})
        assert bad.returncode == 2
        assert "REGISTRATION must be open or closed" in bad.stderr
        assert "Traceback" not in bad.stderr
        async with serving_process(env, tmp_path) as base:
            async with httpx.AsyncClient(base_url=base) as http:
                for register in (rest_register, graphql_register):
                    answer = await register(http, "ops@example.com")
                    assert answer == REFUSED_CLOSED, register
                # register stored nothing: createuser makes the address, once.
                created = await asyncio.to_thread(
                    _cli, "createuser", "--email", "ops@example.com", "--password", PASSWORD,
                    env=cli_env,
                )  # fmt: skip
                assert created.returncode == 0, created.stderr
                again = await asyncio.to_thread(
                    _cli, "createuser", "--email", "ops@example.com", "--password", PASSWORD,
                    env=cli_env,
                )  # fmt: skip
                assert again.returncode == 1
                assert users.EMAIL_TAKEN in again.stderr
                assert await rest_login(http, "ops@example.com", PASSWORD) == "OK"
                assert await graphql_login(http, "ops@example.com", PASSWORD) == "OK"
                # Registering the account's own email is refused as any other.
                assert await rest_register(http, "ops@example.com") == REFUSED_CLOSED


# --- REGISTRATION=open: a taken email is refused, and probing is bounded ---------------


REFUSED_TAKEN = Answer("CONFLICT", auth.REGISTER_REFUSED, "email")


@pytest.mark.parametrize("door", DOORS)
async def test_probing_taken_emails_is_throttled_per_address(
    service: Service, http: httpx.AsyncClient, door: str
) -> None:
    register, _login = DOORS[door]
    settings = service.settings
    # Every attempt spends one of REGISTER_IP_MAX, and a refusal is a failed
    # attempt on the address's login budget: the smaller one stops probing.
    allowed = min(settings.register_ip_max, settings.login_ip_max_failures)
    emails = await taken_emails(allowed + 1)
    for email in emails[:allowed]:
        assert await register(http, email) == REFUSED_TAKEN, email
    throttled = await register(http, emails[allowed])
    assert throttled.code == "RATE_LIMITED"
    assert throttled.message == login_guard.REGISTER_THROTTLED  # not login's wording
    assert throttled.retry_after_ms is not None
    assert throttled.retry_after_ms > 0
    # The address, not an email, is throttled: a new email waits as well...
    assert (await register(http, "newcomer@example.com")).code == "RATE_LIMITED"
    # ...while another address probes and registers as before.
    async with client_from(service, 2) as elsewhere:
        assert await register(elsewhere, emails[0]) == REFUSED_TAKEN
        assert (await register(elsewhere, "newcomer@example.com")).code == "OK"


@pytest.mark.parametrize("door", DOORS)
async def test_a_refused_registration_counts_as_a_failed_login(
    service: Service, http: httpx.AsyncClient, door: str
) -> None:
    """One rule with login's: the pair (email, address) and the address."""
    register, login = DOORS[door]
    settings = service.settings
    [taken] = await taken_emails(1)
    per_pair = min(
        settings.login_max_failures, settings.login_ip_max_failures, settings.register_ip_max
    )
    for _ in range(per_pair):
        assert await register(http, taken) == REFUSED_TAKEN
    throttled = await register(http, taken)
    # Login's count stopped it, in registration's words.
    assert (throttled.code, throttled.message) == ("RATE_LIMITED", login_guard.REGISTER_THROTTLED)
    # The prober's address may no longer try that account's password...
    assert await login(http, taken, PASSWORD) == "RATE_LIMITED"
    # ...but the owner, from elsewhere, is not locked out.
    async with client_from(service, 3) as owner:
        assert await login(owner, taken, PASSWORD) == "OK"
    # Failed logins and refused registrations share one budget per address:
    # after failed logins filling all of it but one, one refusal is left.
    emails = await taken_emails(2, "owner")
    async with client_from(service, 4) as prober:
        for n in range(settings.login_ip_max_failures - 1):
            assert await login(prober, f"nobody{n}@example.com", "wrong guess") == (
                "UNAUTHENTICATED"
            )
        assert await register(prober, emails[0]) == REFUSED_TAKEN
        assert (await register(prober, emails[1])).code == "RATE_LIMITED"


@pytest.mark.parametrize("door", DOORS)
async def test_taken_and_new_emails_spend_the_same_budget(
    service: Service, http: httpx.AsyncClient, door: str
) -> None:
    register, login = DOORS[door]
    limit = service.settings.register_ip_max
    emails = await taken_emails(limit // 2 + 1)
    # So that REGISTER_IP_MAX, not the refusals' login budget, is what stops.
    assert limit // 2 < service.settings.login_ip_max_failures
    # The password is checked before the email is looked up: a taken email
    # with a bad password is a bad password, as for a new one (not counted).
    for email in (emails[0], "newcomer@example.com"):
        answer = await register(http, email, "short")
        assert (answer.code, answer.field) == ("BAD_USER_INPUT", "password")
    # New and taken, alternating: each spends one unit of the same budget.
    answers = []
    for n in range(limit):
        email = emails[n // 2] if n % 2 else f"new{n}@example.com"
        answers.append((await register(http, email)).code)
    assert answers == ["OK", "CONFLICT"] * (limit // 2) + ["OK"] * (limit % 2)
    for email in (f"new{limit}@example.com", emails[-1]):
        assert (await register(http, email)).code == "RATE_LIMITED", email
    # The accounts made on the way are real ones.
    assert await login(http, "new0@example.com", NEW_PASSWORD) == "OK"


@pytest.mark.parametrize("door", DOORS)
async def test_concurrent_attempts_are_counted_before_hashing(
    service: Service, http: httpx.AsyncClient, override_settings: OverrideSettings, door: str
) -> None:
    """Counted atomically before the hash: of many at once, new and taken
    mixed, exactly the budget reach the hasher; the others wait."""
    register, _login = DOORS[door]
    # Not the in-flight cap (LOGIN_IP_CONCURRENCY, tested with login) at work here.
    override_settings(login_ip_concurrency=10_000)
    settings = service.settings
    limit = settings.register_ip_max
    # So that REGISTER_IP_MAX, not the refusals' login budget, is what stops.
    assert limit <= settings.login_ip_max_failures
    total = limit + 12
    emails = await taken_emails(total // 2 + 1)
    attempts = [
        register(http, emails[n // 2] if n % 2 else f"new{n}@example.com") for n in range(total)
    ]
    codes = [answer.code for answer in await asyncio.gather(*attempts)]
    assert set(codes) <= {"OK", "CONFLICT", "RATE_LIMITED"}
    assert len(codes) - codes.count("RATE_LIMITED") == limit
    assert codes.count("CONFLICT") > 0
    assert codes.count("OK") > 0
