"""Look-alike names, control characters, names a path cannot carry, and the
private room name oracle (issue 11, findings 10 and 11; issue 12).

Uniqueness keys: :mod:`resolvers.names`.
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from resolvers import rooms as chat
from tests.conftest import PASSWORD, Account, GraphQL, MakeAccount, data_of, error_codes
from tests.harness import Service
from tests.ws_helpers import chat_client, request

LOOK_ALIKES = [
    "GENERAL",
    "General",
    "ｇｅｎｅｒａｌ",  # fullwidth
    "gen\u200beral",  # zero-width space
    "\u200fgeneral",  # right-to-left mark
    "\u202egeneral\u202c",  # right-to-left override ... pop
    "gene\u00adral",  # soft hyphen
    "\ufeffgeneral",  # byte order mark
]
CREATE_ROOM = "mutation($n: String!, $p: Boolean!) { createRoom(name: $n, isPrivate: $p) { id } }"


async def _create(http: httpx.AsyncClient, who: Account, name: str, **extra: Any) -> httpx.Response:
    return await http.post("/chat/rooms", json={"name": name, **extra}, headers=who.headers)


@pytest.mark.parametrize("name", LOOK_ALIKES)
async def test_look_alike_room_names_are_taken(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account, name: str
) -> None:
    assert (await _create(http, member, "general")).status_code == 201
    response = await _create(http, member, name)
    assert response.status_code == 409, (name, response.text)
    body = await graphql(CREATE_ROOM, {"n": name, "p": True}, token=member.token)
    assert error_codes(body) == ["CONFLICT"], name
    rooms = (await http.get("/chat/rooms", headers=member.headers)).json()
    assert [r["name"] for r in rooms] == ["general"]


async def test_nfd_and_nfc_spellings_are_one_room_and_look_alikes_find_it(
    http: httpx.AsyncClient, member: Account
) -> None:
    nfc = "café"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    created = await _create(http, member, nfc)
    assert created.status_code == 201
    assert (await _create(http, member, nfd)).status_code == 409
    assert (await _create(http, member, "CAFÉ")).status_code == 409
    # A look-alike spelling names the same room on every path.
    sent = await http.post(
        "/chat/rooms/CAF%C3%89/messages", json={"content": "hi"}, headers=member.headers
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["room_id"] == created.json()["id"]


@pytest.mark.parametrize(
    "name", ["bell\x07", "nel\x85x", "csi\x9bx", "del\x7fx", "esc\x1b[31m", "tab\tx"]
)
async def test_control_characters_in_room_names_are_refused(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account, name: str
) -> None:
    response = await _create(http, member, name)
    assert response.status_code == 422, (name, response.text)
    body = await graphql(CREATE_ROOM, {"n": name, "p": False}, token=member.token)
    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("name", ["a/b", "/", ".", "..", " .. ", "a/../b"])
async def test_room_names_a_path_cannot_carry_are_refused(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account, name: str
) -> None:
    response = await _create(http, member, name)
    assert response.status_code == 422, (name, response.text)
    assert response.json()["error"]["code"] == "BAD_USER_INPUT"
    body = await graphql(CREATE_ROOM, {"n": name, "p": False}, token=member.token)
    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("name", ["...", "a.b", "?x#y", "100%", "a b", "x\\y", ".a"])
async def test_other_punctuation_is_carried_by_a_path(
    http: httpx.AsyncClient, member: Account, name: str
) -> None:
    created = await _create(http, member, name)
    assert created.status_code == 201, created.text
    path = f"/chat/rooms/{quote(name, safe='')}/messages"
    response = await http.get(path, headers=member.headers)
    assert response.status_code == 200, (name, path, response.text)


@pytest.mark.parametrize(
    "email",
    [
        "ALICE@example.com",
        "alice@EXAMPLE.COM",
        "ａｌｉｃｅ@example.com",
        "ali\u200bce@example.com",
        "\u200ealice@example.com",
    ],
)
async def test_look_alike_emails_are_one_account(
    http: httpx.AsyncClient, make_account: MakeAccount, email: str
) -> None:
    alice = await make_account("alice@example.com")
    other_password = "another long password"
    await http.post(
        "/register", json={"email": email, "password": other_password, "display_name": "Eve"}
    )
    # No second account: the look-alike is alice's address, with her password only.
    refused = await http.post("/login", json={"email": email, "password": other_password})
    assert refused.status_code == 401, refused.text
    login = await http.post("/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    me = await http.get("/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert me.json()["id"] == alice.id


@pytest.mark.parametrize("email", ["a\x85b@example.com", "ab@exa\x9bmple.com"])
async def test_control_characters_in_emails_are_refused(
    http: httpx.AsyncClient, email: str
) -> None:
    response = await http.post("/register", json={"email": email, "password": "long enough pw"})
    assert response.status_code == 422, response.text


# --- finding 10: one namespace for room names, private ones included --------------


async def test_private_room_names_share_the_namespace_and_reveal_nothing_else(
    http: httpx.AsyncClient, graphql: GraphQL, make_account: MakeAccount
) -> None:
    """The decision (README, Security): a private room's name is taken for
    everyone, so creating it answers 409, exactly as for a public room; the
    answer says nothing else (no id, no privacy flag), and the room stays
    invisible to non-members on every door."""
    owner = await make_account("owner@example.com")
    prober = await make_account("prober@example.com")
    assert (await _create(http, owner, "board", is_private=True)).status_code == 201
    assert (await _create(http, owner, "lobby")).status_code == 201

    private_taken = await _create(http, prober, "Board")
    public_taken = await _create(http, prober, "lobby")
    assert private_taken.status_code == public_taken.status_code == 409
    assert private_taken.json() == public_taken.json()
    assert private_taken.json()["error"]["message"] == chat.ROOM_NAME_TAKEN

    assert (await http.get("/chat/rooms/board/messages", headers=prober.headers)).status_code == 404
    found = await graphql('{ room(room: "board") { id } }', token=prober.token)
    assert data_of(found)["room"] is None
    names = [r["name"] for r in (await http.get("/chat/rooms", headers=prober.headers)).json()]
    assert names == ["lobby"]


SHAPES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE users; --",
    "' OR '1'='1",
    "Robert'); DROP TABLE messages;--",
    "{{7*7}} ${7*7} %s %n",
    "\\'\\\" \\\\ `backticks`",
    "💥 \u202e RTL é",
]


NAME_SHAPES = [s for s in SHAPES if not set(s) & set('/\\"\u202e')]


def room_name(shape: str) -> str:
    """Room names cannot hold "/" (a REST path could not name the room):
    those shapes are refused (checked below), and stored with "|" instead."""
    return shape[:64].replace("/", "|")


NUL_NAMES = ["\x00", "a\x00b"]


@pytest.mark.checklist(25, "rest")
async def test_hostile_strings_come_back_byte_for_byte_on_rest(
    http: httpx.AsyncClient, admin: Account, member: Account
) -> None:
    for n, shape in enumerate(SHAPES):
        if "/" in shape:
            refused = await http.post("/chat/rooms", json={"name": shape}, headers=member.headers)
            assert refused.status_code == 422, shape
        room = await http.post(
            "/chat/rooms", json={"name": room_name(shape)}, headers=member.headers
        )
        assert room.status_code == 201, shape
        assert room.json()["name"] == room_name(shape)
        message = await http.post(
            f"/chat/rooms/{room.json()['id']}/messages",
            json={"content": shape},
            headers=member.headers,
        )
        history = await http.get(
            f"/chat/rooms/{room.json()['id']}/messages", headers=member.headers
        )
        assert message.json()["content"] == history.json()[0]["content"] == shape
        product = await http.post(
            "/products",
            json={"name": shape, "description": shape, "price": 1},
            headers=admin.headers,
        )
        fetched = await http.get(f"/products/{product.json()['id']}")
        assert (fetched.json()["name"], fetched.json()["description"]) == (shape, shape)
        account = await http.post(
            "/register",
            json={
                "email": f"shape{n}@example.com",
                "password": "long enough",
                "display_name": shape,
            },
        )
        me = await http.get(
            "/me", headers={"authorization": f"Bearer {account.json()['access_token']}"}
        )
        assert me.json()["display_name"] == shape
    for shape in NAME_SHAPES:
        upload = await http.post(
            "/files", files={"file": (shape + ".txt", b"x", "text/plain")}, headers=member.headers
        )
        assert upload.json()["filename"] == shape + ".txt"
    assert len((await http.get("/products")).json()) == len(SHAPES)


@pytest.mark.checklist(25, "graphql")
async def test_hostile_strings_come_back_byte_for_byte_on_graphql(
    http: httpx.AsyncClient, admin: Account, member: Account
) -> None:
    async def gql(query: str, variables: dict[str, Any], account: Account) -> dict[str, Any]:
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=account.headers
        )
        data: dict[str, Any] = response.json()["data"]
        return data

    for shape in SHAPES:
        room = await gql(
            "mutation ($n: String!) { createRoom(name: $n) { id name } }",
            {"n": room_name(shape)},
            member,
        )
        assert room["createRoom"]["name"] == room_name(shape)
        sent = await gql(
            "mutation ($r: String!, $c: String!) "
            "{ sendMessage(room: $r, content: $c) { content } }",
            {"r": room["createRoom"]["id"], "c": shape},
            member,
        )
        history = await gql(
            "query ($r: String!) { roomMessages(room: $r) { edges { node { content } } } }",
            {"r": room_name(shape)},
            member,
        )
        assert sent["sendMessage"]["content"] == shape
        assert history["roomMessages"]["edges"][0]["node"]["content"] == shape
        product = await gql(
            "mutation ($n: String!) { createProduct(input: {name: $n, description: $n, "
            'price: "1"}) { name description } }',
            {"n": shape},
            admin,
        )
        assert product["createProduct"] == {"name": shape, "description": shape}


@pytest.mark.checklist(25, "ws")
async def test_hostile_strings_come_back_byte_for_byte_on_ws(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    async with chat_client(service.ws_url, member.token) as ws:
        for shape in SHAPES:
            name = room_name(shape)
            created = await http.post("/chat/rooms", json={"name": name}, headers=member.headers)
            assert created.status_code == 201
            joined = await request(ws, {"type": "join", "room": name})
            assert joined["room"] == name
            await request(ws, {"type": "message", "room": name, "content": shape})
            history = await request(ws, {"type": "room_history", "room": name})
            assert [m["content"] for m in history["messages"]] == [shape]


@pytest.mark.checklist(25, "rest")
async def test_nul_bytes_in_lookups_are_client_errors_on_rest(
    http: httpx.AsyncClient, member: Account
) -> None:
    for name in NUL_NAMES:
        quoted = name.replace("\x00", "%00")
        for method, body in (("GET", None), ("POST", {"content": "x"})):
            response = await http.request(
                method, f"/chat/rooms/{quoted}/messages", json=body, headers=member.headers
            )
            assert response.status_code in {404, 422}, (method, name, response.status_code)
        login = await http.post(
            "/login", json={"email": f"{name}@example.com", "password": "x" * 9}
        )
        assert login.status_code in {401, 422}, (name, login.status_code)


@pytest.mark.checklist(25, "graphql")
async def test_nul_bytes_in_lookups_are_client_errors_on_graphql(
    http: httpx.AsyncClient, member: Account
) -> None:
    for name in NUL_NAMES:
        for query in (
            "query ($r: String!) { room(room: $r) { id } }",
            "query ($r: String!) { roomMessages(room: $r) { edges { cursor } } }",
            'mutation ($r: String!) { sendMessage(room: $r, content: "x") { id } }',
            "mutation ($r: String!) { joinRoom(room: $r) { id } }",
        ):
            response = await http.post(
                "/graphql", json={"query": query, "variables": {"r": name}}, headers=member.headers
            )
            codes = error_codes(response.json())
            assert set(codes) <= {"NOT_FOUND", "BAD_USER_INPUT"}, (query, codes)
        login = await http.post(
            "/graphql",
            json={
                "query": 'mutation ($e: String!) { login(email: $e, password: "xxxxxxxxx") '
                "{ accessToken } }",
                "variables": {"e": f"{name}@example.com"},
            },
        )
        assert error_codes(login.json()) in (["UNAUTHENTICATED"], ["BAD_USER_INPUT"])


@pytest.mark.checklist(25, "ws")
async def test_nul_bytes_in_lookups_are_client_errors_on_ws(
    service: Service, member: Account
) -> None:
    async with chat_client(service.ws_url, member.token) as ws:
        for name in NUL_NAMES:
            for frame in (
                {"type": "join", "room": name},
                {"type": "message", "room": name, "content": "x"},
                {"type": "room_history", "room": name},
            ):
                reply = await request(ws, frame)
                assert reply["code"] in {"NOT_FOUND", "BAD_USER_INPUT"}, (frame, reply)
