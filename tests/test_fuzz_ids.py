"""Every cursor and id argument, fuzzed through the doors (issue 11, finding 6).

Ids and cursors beyond the 32-bit id columns used to reach PostgreSQL,
which refused them: INTERNAL_SERVER_ERROR with a traceback. Whatever a
client sends as a cursor or an id, the answer is data, BAD_USER_INPUT or
NOT_FOUND (REST: 2xx, 404 or 422), and never a 500.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import Account, GraphQL
from tests.harness import Service
from tests.ws_helpers import chat_client, request

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EDGES = [0, 1, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30]
NUMBERS = st.one_of(
    st.sampled_from(EDGES),
    st.sampled_from(EDGES).map(lambda n: -n),
    st.integers(min_value=-(2**80), max_value=2**80),
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


CURSORS = st.one_of(
    NUMBERS.map(lambda n: _b64(f"c:{n}".encode())),
    st.binary(max_size=24).map(_b64),
    st.text(max_size=24),
)
IDS = st.one_of(NUMBERS.map(str), st.text(max_size=24))
ALLOWED = {"BAD_USER_INPUT", "NOT_FOUND"}

CURSOR_QUERIES = [
    "query($c: String) { products(first: 1, after: $c) { edges { cursor } } }",
    "query($c: String) { products(last: 1, before: $c) { edges { cursor } } }",
    "query($c: String) { files(first: 1, after: $c) { edges { cursor } } }",
    "query($c: String) { files(last: 1, before: $c) { edges { cursor } } }",
    "query($c: String) { resources(first: 1, after: $c) { edges { cursor } } }",
    "query($c: String) { resources(last: 1, before: $c) { edges { cursor } } }",
    'query($c: String) { roomMessages(room: "fuzz", first: 1, after: $c) { edges { cursor } } }',
    'query($c: String) { roomMessages(room: "fuzz", last: 1, before: $c) { edges { cursor } } }',
    "query($c: String, $u: ID!) { directMessages(withUser: $u, first: 1, after: $c) "
    "{ edges { cursor } } }",
    "query($c: String, $u: ID!) { directMessages(withUser: $u, last: 1, before: $c) "
    "{ edges { cursor } } }",
]
ID_QUERIES = [
    "query($i: ID!) { product(id: $i) { id } }",
    "query($i: ID!) { room(room: $i) { id } }",
    "query($i: ID!) { rooms(first: 1, after: $i) { id } }",
    'query($i: ID!) { room(room: "fuzz") { members(first: 1, after: $i) { id } } }',
    "query($i: ID!) { rooms { members(after: $i) { id } } }",
    "query($i: ID!) { directMessages(withUser: $i) { edges { cursor } } }",
    "mutation($i: ID!) { deleteProduct(id: $i) }",
    'mutation($i: ID!) { updateProduct(id: $i, input: {name: "x"}) { id } }',
    "mutation($i: ID!) { deleteFile(id: $i) }",
    'mutation($i: ID!) { addRoomMember(room: "fuzz", userId: $i) { id } }',
    "mutation($i: ID!) { joinRoom(room: $i) { id } }",
    'mutation($i: ID!) { sendDirectMessage(to: $i, content: "x") { id } }',
    'mutation($i: ID!) { createResource(input: {title: "t", fileId: $i}) { id } }',
]


def _codes(body: dict[str, Any]) -> set[str]:
    return {e.get("extensions", {}).get("code") for e in body.get("errors") or []}


async def _fuzz_world(http: httpx.AsyncClient, admin: Account, member: Account) -> None:
    if (await http.get("/chat/rooms/fuzz/messages", headers=admin.headers)).status_code == 404:
        response = await http.post("/chat/rooms", json={"name": "fuzz"}, headers=admin.headers)
        assert response.status_code == 201, response.text


@FUZZ
@given(cursor=CURSORS)
@example(cursor="YzoyMTQ3NDgzNjQ4")  # c:2147483648, the attack run's cursor
@example(cursor=_b64(b"c:9223372036854775808"))
async def test_graphql_cursors_never_crash(
    graphql: GraphQL, http: httpx.AsyncClient, admin: Account, member: Account, cursor: str
) -> None:
    await _fuzz_world(http, admin, member)
    for query in CURSOR_QUERIES:
        body = await graphql(query, {"c": cursor, "u": str(member.id)}, token=admin.token)
        assert _codes(body) <= ALLOWED, (query, cursor, body)


@FUZZ
@given(ident=IDS)
@example(ident="2147483648")
@example(ident="99999999999999999999")
async def test_graphql_ids_never_crash(
    graphql: GraphQL, http: httpx.AsyncClient, admin: Account, member: Account, ident: str
) -> None:
    await _fuzz_world(http, admin, member)
    for query in ID_QUERIES:
        body = await graphql(query, {"i": ident}, token=admin.token)
        assert _codes(body) <= ALLOWED | {"CONFLICT"}, (query, ident, body)


@FUZZ
@given(ident=IDS, number=NUMBERS)
@example(ident="2147483648", number=2**31)
async def test_rest_ids_and_cursors_never_crash(
    http: httpx.AsyncClient, admin: Account, member: Account, ident: str, number: int
) -> None:
    await _fuzz_world(http, admin, member)
    part = quote(ident, safe="") or "%20"
    calls = [
        ("GET", f"/products/{part}"),
        ("DELETE", f"/products/{part}"),
        ("GET", f"/files/{part}"),
        ("DELETE", f"/files/{part}"),
        ("GET", f"/chat/dm/{part}"),
        ("GET", f"/chat/rooms/{part}/messages"),
        ("GET", f"/chat/rooms/fuzz/messages?after={number}"),
        ("GET", f"/chat/rooms/fuzz/messages?before={number}&limit={number}"),
        ("GET", f"/chat/dm/{member.id}?after={number}"),
        ("GET", f"/chat/rooms?after={number}&limit={number}"),
        ("GET", f"/products?offset={number}&limit={number}"),
        ("GET", f"/files?offset={number}&limit={number}"),
        ("GET", f"/ressources?offset={number}&limit={number}"),
    ]
    for method, path in calls:
        response = await http.request(method, path, headers=admin.headers)
        assert response.status_code < 500, (method, path, response.text)
        if response.status_code >= 400:
            assert response.json()["error"]["code"] in ALLOWED | {"FORBIDDEN"}, response.text


@FUZZ
@given(ident=st.one_of(NUMBERS, IDS), number=NUMBERS)
@example(ident=2**31, number=2**31)
@example(ident="2147483648", number=2**63)
async def test_ws_ids_and_cursors_never_crash(
    service: Service,
    http: httpx.AsyncClient,
    admin: Account,
    member: Account,
    ident: int | str,
    number: int,
) -> None:
    await _fuzz_world(http, admin, member)
    frames: list[dict[str, Any]] = [
        {"type": "join", "room": ident},
        {"type": "join", "room": "fuzz", "after": number},
        {"type": "room_history", "room": ident, "after": number},
        {"type": "room_history", "room": "fuzz", "before": number},
        {"type": "dm_history", "with": ident},
        {"type": "dm_history", "with": member.id, "after": number, "before": number},
        {"type": "dm", "to": ident, "content": "x"},
    ]
    async with chat_client(service.ws_url, admin.token) as ws:
        for frame in frames:
            reply = await request(ws, dict(frame))
            if reply["type"] == "error":
                assert reply["code"] in ALLOWED, (frame, reply)
