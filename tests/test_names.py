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
