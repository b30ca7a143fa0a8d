"""Security checklist 13-18 (resource consumption, API4), door by door.

GraphQL limits over HTTP are ``test_graphql_limits.py`` (13, 14); here the
same documents go through the subscription door too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from core import runtime
from tests.authz_world import subscriber
from tests.conftest import Account, MakeAccount, error_codes
from tests.harness import Service
from tests.ws_helpers import chat_client, close_code, open_ws, recv, request, send

MiB = 1024 * 1024


def nested(depth: int) -> str:
    return "x { " * depth + "id" + " }" * depth


LIMITED_DOCUMENTS = {
    "depth 20": "subscription { " + nested(20) + " }",
    "1,000 aliases": "subscription { " + " ".join(f"a{i}: x" for i in range(1000)) + " }",
    "5,000 tokens": "subscription { " + "x " * 4998 + "}",
    "100 directives": "subscription { x " + "@skip(if: false) " * 100 + "}",
    "fragment cycle": (
        "subscription { ...A } fragment A on Subscription { ...B } "
        'fragment B on Subscription { roomMessages(room: "r") { id } ...A }'
    ),
    "aliases through fragments": (
        "subscription { ...F ...F ...F ...F } fragment F on Subscription "
        "{ a: x b: x c: x d: x e: x }"
    ),
}


async def test_13_graphql_limits_hold_on_subscriptions(service: Service, member: Account) -> None:
    for name, query in LIMITED_DOCUMENTS.items():
        async with subscriber(service) as client:
            await client.send({"type": "connection_init", "payload": member.headers})
            assert (await client.receive())["type"] == "connection_ack"
            await client.send({"id": "1", "type": "subscribe", "payload": {"query": query}})
            if name in {"1,000 aliases", "5,000 tokens"}:
                # over 2,000 tokens, graphql-core stops parsing: a syntax error,
                # which graphql-transport-ws answers by closing with 4400
                assert await client.close_code() == 4400
                continue
            reply = await client.receive()
            assert reply["type"] == "error", (name, reply)
            codes = {(e.get("extensions") or {}).get("code") for e in reply["payload"]}
            assert codes == {"BAD_USER_INPUT"}, name
            messages = " ".join(e["message"] for e in reply["payload"])
            # refused by a limit, before validation looks at the (made-up) fields
            assert "Cannot query field" not in messages, (name, messages)


# --- 14. batches --------------------------------------------------------------------------


async def test_14_batches_are_capped_and_aliased_logins_throttled_on_graphql(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    cap = service.settings.graphql_max_batch
    over = [{"query": "{ __typename }"}] * (cap + 1)
    response = await http.post("/graphql", json=over)
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]
    login = f'login(email: "{member.email}", password: "wrong password")'
    aliases = " ".join(f"a{i}: {login} {{ accessToken }}" for i in range(10))
    codes: list[str] = []
    for _ in range(service.settings.login_max_failures + 1):
        body = (await http.post("/graphql", json={"query": f"mutation {{ {aliases} }}"})).json()
        codes += error_codes(body)
    # however the guesses are packed, no more than the limit are tried
    assert codes.count("UNAUTHENTICATED") <= service.settings.login_max_failures
    assert codes[-1] == "RATE_LIMITED"


# --- 15. paging values ----------------------------------------------------------------------


@pytest.fixture
def roomy(service: Service) -> Iterator[None]:
    rt = runtime.get()
    saved = rt.settings
    rt.settings = dataclasses.replace(saved, messages_per_window=10_000)
    yield
    rt.settings = saved


@pytest.fixture
async def long_room(http: httpx.AsyncClient, member: Account, roomy: None) -> str:
    """A public room with 105 messages."""
    assert (
        await http.post("/chat/rooms", json={"name": "long"}, headers=member.headers)
    ).is_success
    for n in range(105):
        posted = await http.post(
            "/chat/rooms/long/messages", json={"content": f"m{n}"}, headers=member.headers
        )
        assert posted.status_code == 201
    return "long"


async def test_15_paging_values_are_clamped_or_422_on_rest(
    http: httpx.AsyncClient, member: Account, long_room: str
) -> None:
    history = f"/chat/rooms/{long_room}/messages"
    huge = await http.get(history, params={"limit": 10**9}, headers=member.headers)
    assert huge.status_code == 200
    assert len(huge.json()) == 100
    for path in (history, "/products", "/files", "/resources", "/chat/dm/1"):
        ok = await http.get(path, params={"limit": 10**9}, headers=member.headers)
        assert ok.status_code in {200, 404}, path
        for bad in ("-1", "1.5", "ten", "1e3", str(10**20)):
            for name in ("limit", "offset", "after", "before"):
                response = await http.get(path, params={name: bad}, headers=member.headers)
                if response.status_code == 200:  # a parameter this path does not read
                    continue
                assert response.status_code in {404, 422}, (path, name, bad, response.text)
                assert response.json()["error"]["code"] in {"BAD_USER_INPUT", "NOT_FOUND"}


async def test_15_paging_values_are_clamped_or_bad_input_on_graphql(
    http: httpx.AsyncClient, member: Account, long_room: str
) -> None:
    query = 'query ($n: Int) { roomMessages(room: "long", first: $n) { edges { node { id } } } }'

    async def page(n: Any) -> dict[str, Any]:
        response = await http.post(
            "/graphql", json={"query": query, "variables": {"n": n}}, headers=member.headers
        )
        body: dict[str, Any] = response.json()
        return body

    assert len((await page(10**9))["data"]["roomMessages"]["edges"]) == 100
    for bad in (-1, 1.5, "ten", 10**12):
        assert error_codes(await page(bad)) == ["BAD_USER_INPUT"], bad
    products = await http.post("/graphql", json={"query": "{ products(first: -5) { totalCount } }"})
    assert error_codes(products.json()) == ["BAD_USER_INPUT"]
    huge = await http.post(
        "/graphql", json={"query": "{ products(first: 1000000000) { totalCount } }"}
    )
    assert huge.json() == {"data": {"products": {"totalCount": 0}}}


async def test_15_paging_values_are_clamped_or_bad_input_on_ws(
    service: Service, member: Account, long_room: str
) -> None:
    async with chat_client(service.ws_url, member.token) as ws:
        frame = {"type": "room_history", "room": long_room}
        assert len((await request(ws, {**frame, "limit": 10**9}))["messages"]) == 100
        # A negative limit is the resolvers' BAD_USER_INPUT, as on REST (issue 9).
        negative = await request(ws, {**frame, "limit": -5})
        assert (negative["code"], negative["field"]) == ("BAD_USER_INPUT", "limit")
        for bad in ("ten", 1.5, [1], True):
            reply = await request(ws, {**frame, "limit": bad})
            assert reply["code"] == "BAD_USER_INPUT", bad
        for bad in (-1, 10**12):
            reply = await request(ws, {**frame, "before": bad})
            assert reply["code"] == "BAD_USER_INPUT", bad


# --- 16. huge and deep bodies ------------------------------------------------------------

TWO_MIB = b'{"email": "' + b"a" * (2 * MiB) + b'", "password": "x"}'
DEEP = b"[" * 10_000 + b"]" * 10_000


async def test_16_huge_or_deep_json_is_413_or_422_on_rest(http: httpx.AsyncClient) -> None:
    json_type = {"content-type": "application/json"}
    for path in ("/login", "/register", "/products", "/chat/rooms"):
        big = await http.post(path, content=TWO_MIB, headers=json_type)
        assert big.status_code == 413, path
        deep = await http.post(path, content=b'{"a": ' + DEEP + b"}", headers=json_type)
        assert deep.status_code in {401, 422}, (path, deep.status_code)
        assert deep.status_code == 422 or path != "/login"


async def test_16_huge_or_deep_json_is_413_or_422_on_graphql(http: httpx.AsyncClient) -> None:
    json_type = {"content-type": "application/json"}
    big = await http.post("/graphql", content=TWO_MIB, headers=json_type)
    assert big.status_code == 413
    deep = await http.post(
        "/graphql",
        content=b'{"query": "{ me { id } }", "variables": {"a": ' + DEEP + b"}}",
        headers=json_type,
    )
    assert deep.status_code in {400, 422}
    deep_query = "{ " + "me { " * 5000 + "id" + " }" * 5001
    response = await http.post("/graphql", json={"query": deep_query})
    assert response.status_code in {200, 400, 413}
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]


async def test_16_huge_frames_close_1009_and_deep_ones_are_bad_input_on_ws(
    service: Service, member: Account
) -> None:
    async with chat_client(service.ws_url, member.token) as ws:
        await ws.send(b'{"type": "join", "ref": 1, "room": ' + DEEP + b"}")
        assert (await recv(ws))["code"] == "BAD_USER_INPUT"
        await ws.send('{"type": "join", "ref": 2, "room": ' + "[" * 10_000 + "]" * 10_000 + "}")
        assert (await recv(ws))["code"] == "BAD_USER_INPUT"
        await send(ws, {"type": "message", "room": "r", "content": "x" * (2 * MiB)})
        assert await close_code(ws) == 1009


# --- 17. uploads ----------------------------------------------------------------------------


@pytest.fixture
def small_uploads(service: Service) -> Iterator[int]:
    rt = runtime.get()
    saved = rt.settings
    rt.settings = dataclasses.replace(saved, max_upload_bytes=4096)
    yield 4096
    rt.settings = saved


def blobs(service: Service) -> set[Path]:
    root = service.settings.upload_dir
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


async def chunked(data: bytes, boundary: str) -> AsyncIterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    for start in range(0, len(data), 1024):
        yield data[start : start + 1024]
    yield f"\r\n--{boundary}--\r\n".encode()


def many_parts(count: int, boundary: str, field: str = "x") -> bytes:
    part = f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\nv\r\n'
    return (part * count + f"--{boundary}--\r\n").encode()


async def test_17_oversized_and_many_part_uploads_leave_nothing_on_rest(
    service: Service, http: httpx.AsyncClient, member: Account, small_uploads: int
) -> None:
    before = blobs(service)
    data = b"z" * (small_uploads + 1)
    true_length = await http.post("/files", files={"file": ("a.bin", data)}, headers=member.headers)
    assert true_length.status_code == 413
    boundary = "b0undary"
    headers = {**member.headers, "content-type": f"multipart/form-data; boundary={boundary}"}
    streamed = await http.post("/files", content=chunked(data, boundary), headers=headers)
    assert streamed.status_code == 413
    parts = await http.post("/files", content=many_parts(5000, boundary), headers=headers)
    assert parts.status_code in {400, 413, 422}
    assert parts.json()["error"]["code"] in {"BAD_USER_INPUT", "PAYLOAD_TOO_LARGE"}
    assert (await http.get("/files", headers=member.headers)).json() == []
    assert blobs(service) == before


async def test_17_oversized_and_many_part_uploads_leave_nothing_on_graphql(
    service: Service, http: httpx.AsyncClient, member: Account, small_uploads: int
) -> None:
    before = blobs(service)
    operations = json.dumps(
        {
            "query": "mutation ($f: Upload!) { uploadFile(file: $f) { id } }",
            "variables": {"f": None},
        }
    )
    response = await http.post(
        "/graphql",
        data={"operations": operations, "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("a.bin", b"z" * (small_uploads + 1))},
        headers=member.headers,
    )
    assert error_codes(response.json()) == ["PAYLOAD_TOO_LARGE"]
    boundary = "b0undary"
    headers = {**member.headers, "content-type": f"multipart/form-data; boundary={boundary}"}
    parts = await http.post("/graphql", content=many_parts(5000, boundary), headers=headers)
    assert parts.status_code in {400, 413, 422}
    assert error_codes(parts.json()) in (["BAD_USER_INPUT"], ["PAYLOAD_TOO_LARGE"])
    listing = await http.post(
        "/graphql", json={"query": "{ files { totalCount } }"}, headers=member.headers
    )
    assert listing.json() == {"data": {"files": {"totalCount": 0}}}
    assert blobs(service) == before


# --- 18. WebSocket floods and caps ---------------------------------------------------------


async def test_18_frame_floods_are_throttled_on_ws(service: Service, member: Account) -> None:
    rate = service.settings.ws_frame_rate
    async with chat_client(service.ws_url, member.token) as ws:
        for n in range(rate * 3):
            await send(ws, {"type": "room_history", "room": "nowhere", "ref": n})
        replies = [await recv(ws) for _ in range(rate * 3)]
        limited = [r for r in replies if r["code"] == "RATE_LIMITED"]
        assert limited
        assert all(r["retry_after_ms"] > 0 for r in limited)
        assert {r["code"] for r in replies} == {"RATE_LIMITED", "NOT_FOUND"}
        await asyncio.sleep(1.1)
        assert (await request(ws, {"type": "room_history", "room": "nowhere"}))["code"] == (
            "NOT_FOUND"
        )


async def test_18_connections_per_user_are_capped_on_ws(
    service: Service, make_account: MakeAccount
) -> None:
    member, other = await make_account(), await make_account()
    cap = service.settings.ws_max_connections_per_user
    opened = []
    try:
        for _ in range(cap):
            opened.append(await open_ws(service.ws_url, member.token))
        with pytest.raises(InvalidStatus) as refused:
            await open_ws(service.ws_url, member.token)
        assert refused.value.response.status_code == 429
        # another user is not affected
        async with chat_client(service.ws_url, other.token):
            pass
    finally:
        for ws in opened:
            await ws.close()
    # a closed connection frees its slot
    async with chat_client(service.ws_url, member.token):
        pass


async def raw_post(service: Service, path: str, headers: dict[str, str], body: bytes) -> int:
    """POST with headers as given (a Content-Length that lies); the status line's code."""
    host, port = service.http_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        return int(status_line.split()[1])
    finally:
        writer.close()


async def test_17_a_false_content_length_cannot_smuggle_a_larger_file_on_rest_and_graphql(
    service: Service, http: httpx.AsyncClient, member: Account, small_uploads: int
) -> None:
    before = blobs(service)
    boundary = "b0undary"
    body, _ = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"z" * (small_uploads * 4)
        + f"\r\n--{boundary}--\r\n".encode(),
        None,
    )
    headers = {
        **member.headers,
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": "300",  # far less than what follows
    }
    for path in ("/files", "/graphql"):
        status = await raw_post(service, path, headers, body)
        assert 400 <= status < 500, (path, status)
    assert (await http.get("/files", headers=member.headers)).json() == []
    assert blobs(service) == before
