"""Security checklist 23-26 (input handling), door by door."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import httpx

from tests.authz_world import subscriber
from tests.conftest import Account, MakeAccount, error_codes
from tests.harness import Service
from tests.ws_helpers import chat_client, request

ERROR_CODES = {"BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN", "RATE_LIMITED", "UNAUTHENTICATED"}
REPLIES = {"joined", "ack", "message", "dm", "room_history", "dm_history", "ready", "error"}


# --- 23. WebSocket frame fuzzing ---------------------------------------------------------


def fuzz_frames(seed: int, count: int) -> list[str | bytes]:
    rng = random.Random(seed)
    kinds = ["join", "message", "dm", "room_history", "dm_history", "auth", "", "JOIN", "x" * 300]
    fields = [
        "room",
        "content",
        "to",
        "with",
        "limit",
        "before",
        "after",
        "token",
        "ref",
        "client_id",
    ]
    values: list[Any] = [
        None, True, -1, 0, 2**31, 2**64, 1.5, -1e308, "", "general", "\u0000", "\ud800",
        "é" * 100, [], [1, [2]], {}, {"a": {"b": None}}, "x" * 5000,
    ]  # fmt: skip
    frames: list[str | bytes] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.15:
            frames.append(rng.randbytes(rng.randint(0, 64)))
        elif roll < 0.3:
            text = "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0x80, 0xD7FF)]))
                           for _ in range(rng.randint(0, 40)))  # fmt: skip
            frames.append(text)
        elif roll < 0.4:
            frames.append(json.dumps(rng.choice(values)))
        else:
            frame: dict[str, Any] = {"type": rng.choice(kinds)}
            for name in rng.sample(fields, rng.randint(0, len(fields))):
                frame[name] = rng.choice(values)
            frames.append(json.dumps(frame))
    return frames


async def test_23_fuzzed_frames_get_error_frames_and_the_server_keeps_serving_on_ws(
    service: Service, make_account: MakeAccount
) -> None:
    fuzzer, bystander = await make_account(), await make_account()
    async with (
        chat_client(service.ws_url, fuzzer.token) as ws,
        chat_client(service.ws_url, bystander.token) as calm,
    ):
        for n, frame in enumerate(fuzz_frames(23, 150)):
            await ws.send(frame)
            # a probe after each frame: its reply comes after the frame's (if any)
            probe = {"type": "room_history", "room": "nowhere", "ref": f"probe-{n}"}
            await ws.send(json.dumps(probe))
            while True:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert reply["type"] in REPLIES, (frame, reply)
                if reply["type"] == "error":
                    assert reply["code"] in ERROR_CODES, (frame, reply)
                if reply.get("ref") == f"probe-{n}":
                    break
            if n % 40 == 39:
                await asyncio.sleep(0.5)  # stay mostly under the frame rate
        reply = await request(calm, {"type": "room_history", "room": "nowhere"})
        assert reply["code"] == "NOT_FOUND"


async def test_23_garbage_on_graphql_transport_ws_closes_with_4400_only(
    service: Service, member: Account
) -> None:
    garbage_messages = ["{nope", "[]", "5", "null", '"x"', '{"type": "subscribe"}', '{"type": 5}']
    codes = {}
    for garbage in garbage_messages:
        async with subscriber(service) as client:
            await client.send({"type": "connection_init", "payload": member.headers})
            assert (await client.receive())["type"] == "connection_ack"
            await client.conn.send(garbage)
            codes[garbage] = await client.close_code()
    assert codes == dict.fromkeys(garbage_messages, 4400)
    async with subscriber(service) as client:  # and the door still serves
        await client.send({"type": "connection_init", "payload": member.headers})
        assert (await client.receive())["type"] == "connection_ack"


# --- 24. filenames -------------------------------------------------------------------------

NASTY_NAMES = [
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "a\x00b.txt",
    "x" * 1000 + ".txt",
    "résumé 🎉 東京.pdf",
    "page.html",
    "image.svg",
    ".htaccess",
    "\u202etxt.exe",
]
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def multipart_file(filename: str, data: bytes, field: str = "file") -> tuple[bytes, str]:
    boundary = "nasty-boundary"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: image/svg+xml\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def assert_safe_name(name: str) -> None:
    assert "/" not in name
    assert "\\" not in name
    assert "\x00" not in name
    assert not name.startswith(".")
    assert 0 < len(name) <= 255


async def assert_served_inert(http: httpx.AsyncClient, account: Account, file_id: int) -> None:
    download = await http.get(f"/files/{file_id}", headers=account.headers)
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.content == SVG


def no_escape(service: Service, tmp_root: Path) -> None:
    """Nothing was written outside UPLOAD_DIR."""
    assert not any(p.name in {"passwd", "win.ini"} for p in tmp_root.rglob("*"))
    root = service.settings.upload_dir.resolve()
    assert all(p.resolve().is_relative_to(root) for p in root.rglob("*"))


async def test_24_nasty_filenames_are_stored_safely_and_served_inert_on_rest(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    for name in NASTY_NAMES:
        body, boundary = multipart_file(name, SVG)
        response = await http.post(
            "/files",
            content=body,
            headers={**member.headers, "content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code == 201, name
        assert_safe_name(response.json()["filename"])
        await assert_served_inert(http, member, response.json()["id"])
    no_escape(service, service.settings.upload_dir.parent)


async def test_24_nasty_filenames_are_stored_safely_and_served_inert_on_graphql(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    operations = json.dumps(
        {
            "query": "mutation ($f: Upload!) { uploadFile(file: $f) { id filename url } }",
            "variables": {"f": None},
        }
    )
    for name in NASTY_NAMES:
        file_part, boundary = multipart_file(name, SVG, field="0")
        fields = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
            for key, value in (("operations", operations), ("map", '{"0": ["variables.f"]}'))
        ).encode()
        response = await http.post(
            "/graphql",
            content=fields + file_part,
            headers={**member.headers, "content-type": f"multipart/form-data; boundary={boundary}"},
        )
        created = response.json()["data"]["uploadFile"]
        assert_safe_name(created["filename"])
        await assert_served_inert(http, member, int(created["id"]))
    no_escape(service, service.settings.upload_dir.parent)


# --- 25. XSS- and SQL-shaped strings come back inert ----------------------------------------

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
# Filenames drop path components and bidi overrides (24); multipart clients
# send '"' as %22.
NAME_SHAPES = [s for s in SHAPES if not set(s) & set('/\\"\u202e')]


def room_name(shape: str) -> str:
    """Room names cannot hold "/" (a REST path could not name the room):
    those shapes are refused (checked below), and stored with "|" instead."""
    return shape[:64].replace("/", "|")


async def test_25_hostile_strings_come_back_byte_for_byte_on_rest(
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


async def test_25_hostile_strings_come_back_byte_for_byte_on_graphql(
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


async def test_25_hostile_strings_come_back_byte_for_byte_on_ws(
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


# --- 26. resource URLs ----------------------------------------------------------------------

BAD_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "file:///etc/passwd",
    "data:text/html,<script>alert(1)</script>",
    "ftp://example.com/x",
    "gopher://127.0.0.1:6379/_INFO",
    "//evil.example.net/x",
    "http://user:secret@example.com/",
    "http:///nohost",
]


async def listener() -> tuple[asyncio.Server, list[int]]:
    """A TCP server that counts connections: the server must never open one."""
    hits: list[int] = []

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hits.append(1)
        writer.close()

    server = await asyncio.start_server(count, "127.0.0.1", 0)
    return server, hits


async def test_26_only_http_urls_and_nothing_fetched_on_rest(
    http: httpx.AsyncClient, admin: Account
) -> None:
    for url in BAD_URLS:
        response = await http.post(
            "/resources", json={"title": "t", "kind": "LINK", "url": url}, headers=admin.headers
        )
        assert response.status_code == 422, url
        assert response.json()["error"]["code"] == "BAD_USER_INPUT"
    server, hits = await listener()
    port = server.sockets[0].getsockname()[1]
    try:
        for url in (f"http://127.0.0.1:{port}/internal", f"https://127.0.0.1:{port}/x"):
            created = await http.post(
                "/resources", json={"title": "t", "kind": "LINK", "url": url}, headers=admin.headers
            )
            assert created.status_code == 201
            assert created.json()["url"] == url
        await http.get("/resources", headers=admin.headers)
        await asyncio.sleep(0.3)
        assert hits == []
    finally:
        server.close()
        await server.wait_closed()
    assert len((await http.get("/resources", headers=admin.headers)).json()) == 2


async def test_26_only_http_urls_and_nothing_fetched_on_graphql(
    http: httpx.AsyncClient, admin: Account
) -> None:
    create = (
        'mutation ($u: String!) { createResource(input: {title: "t", kind: LINK, url: $u}) '
        "{ id url } }"
    )

    async def post(url: str) -> dict[str, Any]:
        response = await http.post(
            "/graphql", json={"query": create, "variables": {"u": url}}, headers=admin.headers
        )
        body: dict[str, Any] = response.json()
        return body

    for url in BAD_URLS:
        assert error_codes(await post(url)) == ["BAD_USER_INPUT"], url
    server, hits = await listener()
    port = server.sockets[0].getsockname()[1]
    try:
        url = f"http://127.0.0.1:{port}/internal"
        assert (await post(url))["data"]["createResource"]["url"] == url
        await asyncio.sleep(0.3)
        assert hits == []
    finally:
        server.close()
        await server.wait_closed()


# NUL cannot be stored in PostgreSQL text: a lookup by such a name must be
# refused as input (or not found), never reach the database as a 500.
NUL_NAMES = ["\x00", "a\x00b"]


async def test_25_nul_bytes_in_lookups_are_client_errors_on_rest(
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


async def test_25_nul_bytes_in_lookups_are_client_errors_on_graphql(
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


async def test_25_nul_bytes_in_lookups_are_client_errors_on_ws(
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
