from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from tortoise import Tortoise

from core import runtime
from models import Role
from resolvers import presence, users
from tests.harness import Service, running_service, scratch_database, service_env

if TYPE_CHECKING:
    from tests.authz_world import World

PASSWORD = "correct horse battery"

TABLES = [
    "refresh_tokens",
    "auth_sessions",
    "memberships",
    "messages",
    "message_changes",
    "reactions",
    "attachments",
    "direct_messages",
    "resources",
    "files",
    "rooms",
    "products",
    "users",
    "read_markers",
]

# DELETE, not TRUNCATE: on tables of a few rows a DELETE is a plain write,
# while TRUNCATE gives every table and index a new file and syncs them all
# at commit (half a second per test under load, the PostgreSQL run's largest
# cost). Every foreign key cascades, and the sequences owned by these
# tables' columns restart as TRUNCATE ... RESTART IDENTITY restarts them.
EMPTY_POSTGRES = "".join(f'DELETE FROM "{t}";' for t in TABLES) + (
    "SELECT setval(s.oid, 1, false) FROM pg_class s"
    " JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid"
    " AND d.deptype IN ('a', 'i')"
    " JOIN pg_class t ON t.oid = d.refobjid"
    " WHERE s.relkind = 'S' AND t.relname IN (" + ", ".join(f"'{t}'" for t in TABLES) + ");"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with a ``slow`` test spread evenly among the others, each
    module's tests in their order.

    ``make test`` hands whole modules to its workers in this order (xdist's
    ``--dist loadfile --no-loadscope-reorder``): the long multi-process
    modules then run about one at a time beside short ones, instead of all
    together (a load spike that timing-sensitive tests feel) or all at the
    end (one worker left alone with them).
    """
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    slow = [m for m, its in modules.items() if any(i.get_closest_marker("slow") for i in its)]
    fast = [m for m in modules if m not in slow]
    if not slow or not fast:
        return
    # Each list spread over [0, 1), then merged.
    place = {m: (n + 0.5) / len(slow) for n, m in enumerate(slow)}
    place.update({m: (n + 0.5) / len(fast) for n, m in enumerate(fast)})
    order = sorted(modules, key=place.__getitem__)
    items[:] = [item for module in order for item in modules[module]]


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with scratch_database(
        os.environ.get("DATABASE_URL"), tmp_path_factory.mktemp("db")
    ) as url:
        yield url


@pytest.fixture(scope="session")
async def service(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Service]:
    env = service_env(database_url, tmp_path_factory.mktemp("run"))
    async with running_service(env) as svc:
        yield svc


@pytest.fixture(autouse=True)
async def clean_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test starts with empty tables and fresh rate limits."""
    if "service" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("service")
    conn = Tortoise.get_connection("default")
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script(EMPTY_POSTGRES)
    else:
        await conn.execute_script(
            "".join(f'DELETE FROM "{t}";' for t in TABLES) + "DELETE FROM sqlite_sequence;"
        )
    await runtime.get().limiter.clear()
    await presence.store().clear()
    yield


OverrideSettings = Callable[..., None]


@pytest.fixture
def override_settings(service: Service) -> Iterator[OverrideSettings]:
    """Change fields of the running service's settings; all restored after the test.

    The one way tests change runtime settings: never assign them by hand.
    """
    rt = runtime.get()
    original = rt.settings

    def apply(**changes: Any) -> None:
        rt.settings = dataclasses.replace(rt.settings, **changes)

    yield apply
    rt.settings = original


@pytest.fixture
def roomy(override_settings: OverrideSettings) -> None:
    """A message budget large enough to post long histories quickly."""
    override_settings(messages_per_window=10_000)


@pytest.fixture
def upload_dir(service: Service) -> Path:
    """The service's UPLOAD_DIR, emptied for this test."""
    from tests.files_helpers import empty_upload_dir

    return empty_upload_dir(service)


@pytest.fixture
async def http(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with service.client() as client:
        yield client


@dataclass
class Account:
    id: int
    email: str
    password: str
    token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


MakeAccount = Callable[..., Awaitable[Account]]


@pytest.fixture
def make_account(http: httpx.AsyncClient) -> MakeAccount:
    """Given an account (created directly), logged in through POST /login."""
    counter = 0

    async def make(
        email: str | None = None, *, admin: bool = False, display_name: str | None = None
    ) -> Account:
        nonlocal counter
        counter += 1
        email = email or f"user{counter}@example.com"
        user = await users.create_user(
            email=email,
            password=PASSWORD,
            display_name=display_name,
            role=Role.ADMIN if admin else Role.MEMBER,
        )
        response = await http.post("/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        body = response.json()
        return Account(user.id, email, PASSWORD, body["access_token"], body["refresh_token"])

    return make


@pytest.fixture
async def admin(make_account: MakeAccount) -> Account:
    return await make_account("admin@example.com", admin=True)


@pytest.fixture
async def member(make_account: MakeAccount) -> Account:
    return await make_account("member@example.com")


GraphQL = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def graphql(http: httpx.AsyncClient) -> GraphQL:
    """POST a GraphQL operation and return the whole response body."""

    async def run(
        query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return run


def data_of(body: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of a response that must have no errors."""
    assert not body.get("errors"), body.get("errors")
    data: dict[str, Any] = body["data"]
    return data


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


# Fixtures over the modules that import this one: imported when first used.


@pytest.fixture
async def world(service: Service, http: httpx.AsyncClient, make_account: MakeAccount) -> World:
    """The owner's private room, DMs, file, product and resource (tests/authz_world.py)."""
    from tests.authz_world import build_world

    return await build_world(service, http, make_account)


@pytest.fixture
async def pair(http: httpx.AsyncClient, make_account: MakeAccount) -> tuple[Account, Account]:
    """Two members; the first created the public room ``helpers.LEDGER``."""
    from tests.helpers import LEDGER

    alice, bob = await make_account(), await make_account()
    created = await http.post("/chat/rooms", json={"name": LEDGER}, headers=alice.headers)
    assert created.status_code == 201
    return alice, bob
