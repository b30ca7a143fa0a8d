"""A small world built through the public doors, for authorization tests.

Three accounts (an ADMIN, the MEMBER who owns things, another MEMBER), a
product, a file uploaded by the owner, a resource, the owner's private room
with one message, and direct messages between the owner and the ADMIN
(then one from the other member to the owner). Every response read
through :class:`World` is kept, per actor, so that tests can check what
was shown to whom (no hashes, nobody else's email).

Cells of the matrix that the permission table decides (``Ruled``) are
derived from ``resolvers.permissions``: the rules are asked about stand-ins
of the four actors, the owner owning every target, and each door writes
the refusal its way.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from core.errors import Conflict, Forbidden, NotFound
from models import Role
from resolvers import permissions
from resolvers.permissions import Action
from tests.conftest import PASSWORD, Account, MakeAccount
from tests.harness import Service

ACTORS = ("anonymous", "owner", "other", "admin")
OK, HIDDEN = "ok", "hidden"
GRAPHQL_WS = "graphql-transport-ws"
TIMEOUT = 10.0

_names = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


@dataclass
class World:
    service: Service
    http: httpx.AsyncClient
    admin: Account
    owner: Account
    other: Account
    spare: Account
    product_id: int = 0
    file_id: int = 0
    resource_id: int = 0
    room: str = ""
    room_id: int = 0
    message_id: int = 0
    dm_ids: list[int] = field(default_factory=list)
    other_dm_id: int = 0
    public_room: str = ""
    seen: dict[str, list[str]] = field(default_factory=dict)
    # Things made once by the probes that need them (e.g. edits to replay).
    marks: dict[str, int] = field(default_factory=dict)

    def account(self, actor: str) -> Account | None:
        if actor == "anonymous":
            return None
        found: Account = getattr(self, actor)
        return found

    def headers(self, actor: str) -> dict[str, str]:
        account = self.account(actor)
        return account.headers if account else {}

    def record(self, actor: str, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self.seen.setdefault(actor, []).append(text)

    # --- doors ------------------------------------------------------------------

    async def rest(self, actor: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(actor), **kwargs.pop("headers", {})}
        response = await self.http.request(method, path, headers=headers, **kwargs)
        self.record(actor, response.content)
        return response

    async def graphql(
        self, actor: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self.rest(
            actor, "POST", "/graphql", json={"query": query, "variables": variables or {}}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def graphql_upload(self, actor: str, data: bytes) -> dict[str, Any]:
        operations = {
            "query": "mutation ($file: Upload!) { uploadFile(file: $file) "
            "{ id filename owner { id email } } }",
            "variables": {"file": None},
        }
        response = await self.rest(
            actor,
            "POST",
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.file"]}),
            },
            files={"0": ("note.txt", data, "text/plain")},
        )
        # Anonymous uploads are refused before the body is read: 401.
        assert response.status_code == (401 if actor == "anonymous" else 200), response.text
        body: dict[str, Any] = response.json()
        return body

    # --- fresh objects, for cells that change or destroy what they touch ----------

    async def fresh_product(self) -> int:
        response = await self.http.post(
            "/products",
            json={"name": unique("product"), "price": 9.99, "stock": 3},
            headers=self.admin.headers,
        )
        assert response.status_code == 201, response.text
        product_id: int = response.json()["id"]
        return product_id

    async def fresh_file(self) -> int:
        response = await self.http.post(
            "/files",
            files={"file": ("owner.txt", b"the owner's bytes", "text/plain")},
            headers=self.owner.headers,
        )
        assert response.status_code == 201, response.text
        file_id: int = response.json()["id"]
        return file_id

    async def fresh_private_room(self) -> str:
        name = unique("private")
        response = await self.http.post(
            "/chat/rooms", json={"name": name, "is_private": True}, headers=self.owner.headers
        )
        assert response.status_code == 201, response.text
        return name

    async def fresh_refresh_token(self) -> str:
        response = await self.http.post(
            "/login", json={"email": self.spare.email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["refresh_token"]
        return token

    async def fresh_message(self) -> int:
        """A new message of the owner in the owner's private room."""
        response = await self.http.post(
            f"/chat/rooms/{self.room}/messages",
            json={"content": "to change"},
            headers=self.owner.headers,
        )
        assert response.status_code == 201, response.text
        message_id: int = response.json()["id"]
        return message_id

    async def fresh_dm(self) -> int:
        """A new DM from the owner to the ADMIN."""
        response = await self.http.post(
            f"/chat/dm/{self.admin.id}", json={"content": "to change"}, headers=self.owner.headers
        )
        assert response.status_code == 201, response.text
        dm_id: int = response.json()["id"]
        return dm_id

    async def fresh_linked_file(self) -> int:
        """A new file of the owner's that a resource (the ADMIN's) links."""
        file_id = await self.fresh_file()
        response = await self.http.post(
            "/resources",
            json={"title": unique("linked"), "file_id": file_id},
            headers=self.admin.headers,
        )
        assert response.status_code == 201, response.text
        return file_id

    async def fresh_public_message(self) -> str:
        """A new message of the owner's in a public room (which everyone sees):
        its path."""
        if not self.public_room:
            self.public_room = unique("public")
            response = await self.http.post(
                "/chat/rooms", json={"name": self.public_room}, headers=self.owner.headers
            )
            assert response.status_code == 201, response.text
        path = f"/chat/rooms/{self.public_room}/messages"
        response = await self.http.post(path, json={"content": "hi"}, headers=self.owner.headers)
        assert response.status_code == 201, response.text
        return f"{path}/{response.json()['id']}"

    async def fresh_dm_to(self, actor: str) -> str:
        """A new DM from the owner to ``actor`` (to the ADMIN, for the owner and
        anonymous): its path as ``actor`` names it (by the other party)."""
        party = actor in {"other", "admin"}
        recipient = getattr(self, actor) if party else self.admin
        response = await self.http.post(
            f"/chat/dm/{recipient.id}", json={"content": "to change"}, headers=self.owner.headers
        )
        assert response.status_code == 201, response.text
        peer = self.owner if party else self.admin
        return f"/chat/dm/{peer.id}/messages/{response.json()['id']}"

    async def mark(self, name: str, method: str, path: str, actor: str, **kwargs: Any) -> int:
        """Do a request once (as ``actor``) and remember the ``event_id`` or
        ``id`` it answers, or the id in the path."""
        if name not in self.marks:
            account = self.account(actor)
            assert account is not None
            response = await self.http.request(method, path, headers=account.headers, **kwargs)
            assert response.status_code < 300, response.text
            self.marks[name] = int(path.rsplit("/", 1)[1])
        return self.marks[name]

    def target_user(self, actor: str) -> Account:
        """Whom an actor talks to in DM cells: the ADMIN for the owner, else the owner."""
        return self.admin if actor == "owner" else self.owner


async def register(http: httpx.AsyncClient, email: str) -> Account:
    """A MEMBER signed up through POST /register."""
    response = await http.post("/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    pair = response.json()
    me = await http.get("/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    return Account(me.json()["id"], email, PASSWORD, pair["access_token"], pair["refresh_token"])


async def build_world(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> World:
    # An ADMIN cannot sign up: it is made as operators do (createuser --admin).
    admin = await make_account("admin@example.com", admin=True)
    owner = await register(http, "owner@example.com")
    other = await register(http, "other@example.com")
    spare = await register(http, "spare@example.com")
    world = World(service, http, admin, owner, other, spare)
    world.product_id = await world.fresh_product()
    world.file_id = await world.fresh_file()
    response = await http.post(
        "/resources",
        json={"title": "Handbook", "kind": "LINK", "url": "https://example.com/handbook"},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    world.resource_id = response.json()["id"]
    world.room = await world.fresh_private_room()
    response = await http.post(
        f"/chat/rooms/{world.room}/messages",
        json={"content": "owner only"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    world.message_id = response.json()["id"]
    world.room_id = response.json()["room_id"]
    for sender, recipient in ((owner, admin), (admin, owner)):
        response = await http.post(
            f"/chat/dm/{recipient.id}", json={"content": "between us"}, headers=sender.headers
        )
        assert response.status_code == 201, response.text
        world.dm_ids.append(response.json()["id"])
    response = await http.post(
        f"/chat/dm/{owner.id}", json={"content": "hello owner"}, headers=other.headers
    )
    assert response.status_code == 201, response.text
    world.other_dm_id = response.json()["id"]
    return world


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_BCRYPT = re.compile(r"\$2[aby]\$\d\d\$")
_SECRET_KEYS = ("password_hash", "passwordHash", "token_hash", "tokenHash", "storage_key")


def assert_nothing_leaked(world: World) -> None:
    """No hash of any kind, and no email that ``Action.USER_EMAIL_READ`` keeps
    from the actor, in anything any actor saw."""
    seen = {actor: "\n".join(texts) for actor, texts in world.seen.items()}
    everything = "\n".join(seen.values())
    refresh_hashes = {
        hashlib.sha256(token.encode()).hexdigest() for token in _UUID.findall(everything)
    }
    for actor, text in seen.items():
        for key in _SECRET_KEYS:
            assert key not in text, (actor, key)
        assert not _BCRYPT.search(text), actor
        for digest in refresh_hashes:
            assert digest not in text, (actor, "a refresh-token hash")
        for name in ("owner", "other", "admin"):
            shown = STAND_INS.get(actor)
            if not permissions.allowed(Action.USER_EMAIL_READ, shown, owner=STAND_INS[name].id):
                email = getattr(world, name).email
                assert email not in text, f"{actor} was shown {name}'s email"


# --- cells derived from the permission table ----------------------------------------------


@dataclass(frozen=True)
class StandIn:
    """An actor as the rules see it (``permissions.Actor``)."""

    id: int
    role: Role


# The signed-in actors; the owner owns every target of a ruled row.
STAND_INS = {
    "owner": StandIn(1, Role.MEMBER),
    "other": StandIn(2, Role.MEMBER),
    "admin": StandIn(3, Role.ADMIN),
}
TARGET_OWNER = STAND_INS["owner"].id
# ... and is the one member of every room a ruled row aims at.
TARGET_MEMBERS = {TARGET_OWNER}


@dataclass(frozen=True)
class Ruled:
    """A row's cells, derived: the permission checks its resolver makes, in
    order. The first check that refuses an actor gives its cell: the
    entry's refusal (FORBIDDEN, or NOT_FOUND for a hidden entry), or what
    the resolver turns that refusal into on this row (``outcome``: HIDDEN
    in a listing, CONFLICT...). Anonymous callers get the door's
    UNAUTHENTICATED, as no rule admits them."""

    checks: tuple[tuple[Action, str | None], ...]

    @property
    def actions(self) -> set[Action]:
        return {action for action, _ in self.checks}


def ruled(*checks: Action | tuple[Action, str]) -> Ruled:
    return Ruled(tuple((c, None) if isinstance(c, Action) else c for c in checks))


@dataclass(frozen=True)
class Door:
    """How a door writes a cell: its anonymous refusal, and an error code."""

    anonymous: str
    refusal: Callable[[str], str]


_STATUS = {error.code: error.status for error in (Forbidden, NotFound, Conflict)}
GRAPHQL_DOOR = Door("UNAUTHENTICATED", lambda code: code)
REST_DOOR = Door("401 UNAUTHENTICATED", lambda code: f"{_STATUS[code]} {code}")
WS_DOOR = Door("handshake 401", lambda code: code)


def _cell(door: Door, rule: Ruled, actor: str) -> str:
    for action, outcome in rule.checks:
        stand_in = STAND_INS[actor]
        member = stand_in.id in TARGET_MEMBERS
        if permissions.allowed(action, stand_in, owner=TARGET_OWNER, member=member):
            continue
        if outcome == HIDDEN:
            return HIDDEN
        hidden = permissions.TABLE[action].hidden
        return door.refusal(outcome or (NotFound.code if hidden else Forbidden.code))
    return OK


def derived(door: Door, rule: Ruled) -> tuple[str, str, str, str]:
    """The cells of (anonymous, owner, other, admin) for a ruled row."""
    owner, other, admin = (_cell(door, rule, actor) for actor in ACTORS[1:])
    return door.anonymous, owner, other, admin


# --- a bare graphql-transport-ws client ---------------------------------------------


@dataclass
class Subscriber:
    conn: ClientConnection

    async def send(self, message: dict[str, Any]) -> None:
        await self.conn.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        while True:
            raw = await asyncio.wait_for(self.conn.recv(), TIMEOUT)
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") != "ping":
                return message
            await self.send({"type": "pong"})

    async def close_code(self) -> int | None:
        try:
            while True:
                await self.receive()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


@asynccontextmanager
async def subscriber(service: Service) -> AsyncIterator[Subscriber]:
    url = service.http_url.replace("http://", "ws://", 1) + "/graphql"
    async with connect(url, subprotocols=[GRAPHQL_WS], open_timeout=TIMEOUT) as conn:  # type: ignore[list-item]
        yield Subscriber(conn)
