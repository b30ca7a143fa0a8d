"""The chat WebSocket server's handshake, frame errors and close codes."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from resolvers import limits
from tests.account_helpers import bearer, token_for
from tests.conftest import Account, MakeAccount
from tests.harness import Service
from tests.helpers import EVIL
from tests.ws_helpers import chat_client, close_code, handshake_status, open_ws, recv, request, send

# --- handshake -----------------------------------------------------------------------


async def test_handshake_without_token_is_401(service: Service) -> None:
    assert await handshake_status(service.ws_url) == 401


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer ", "Token abc"],
)
async def test_handshake_with_a_bad_authorization_header_is_401(
    service: Service, member: Account, header: str
) -> None:
    assert await handshake_status(service.ws_url, {"Authorization": header}) == 401


async def test_handshake_with_a_bad_query_token_is_401(service: Service) -> None:
    assert await handshake_status(f"{service.ws_url}/?token=abc.def.ghi") == 401


async def test_handshake_with_an_expired_token_is_401_even_within_the_leeway(
    service: Service, member: Account
) -> None:
    # The token codec tolerates 10 s of clock skew; the chat server closes
    # connections at `exp`, so it accepts no token past it.
    for expired in (
        token_for(member.token, expires_in=-3),
        token_for(member.token, expires_in=-60),
    ):
        assert await handshake_status(service.ws_url, bearer(expired)) == 401


async def test_handshake_refusal_says_nothing_else(service: Service) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", int(service.ws_url.rsplit(":", 1)[1])
    )
    writer.write(
        b"GET /?token=nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    response = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401 ")
    assert b"www-authenticate: bearer" in head.lower()
    assert b"server:" not in head.lower()
    assert body == b"Unauthorized\n"


async def test_token_in_header_or_query_gets_ready_with_the_user(
    service: Service, make_account: MakeAccount
) -> None:
    account = await make_account("ready@example.com", display_name="Ready")
    for ws in (
        await open_ws(service.ws_url, account.token),
        await open_ws(f"{service.ws_url}/?token={account.token}"),
    ):
        ready = await recv(ws)
        await ws.close()
        assert ready["type"] == "ready"
        assert ready["user"] == {
            "id": account.id,
            "email": "ready@example.com",
            "display_name": "Ready",
        }
        assert "password" not in json.dumps(ready)


async def test_a_browser_origin_not_in_cors_origins_is_403(
    service: Service, member: Account
) -> None:
    # The suite's server lists no CORS origin: every browser origin is refused.
    headers = {**bearer(member.token), "Origin": "https://evil.example"}
    assert await handshake_status(service.ws_url, headers) == 403
    assert await handshake_status(service.ws_url, bearer(member.token)) == 101


# --- frame errors: an error frame, and the connection goes on ------------------------------


async def _still_usable(ws: ClientConnection) -> None:
    reply = await request(ws, {"type": "room_history", "room": "nowhere"})
    assert reply["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ("{not json", None),
        ("[1, 2, 3]", None),
        ('"hello"', None),
        ('{"type": 3}', "type"),
        ('{"room": "general"}', "type"),
        ('{"type": "shout", "ref": "s1"}', "type"),
        ('{"type": "join", "ref": "j1"}', "room"),
        ('{"type": "join", "room": {"name": "general"}}', "room"),
        ('{"type": "message", "room": "general", "ref": 1}', "content"),
        ('{"type": "dm", "to": "bob", "content": "x"}', "to"),
        ('{"type": "room_history", "room": "general", "limit": "ten"}', "limit"),
        ('{"type": "room_history", "room": "general", "limit": 2.5}', "limit"),
        ('{"type": "dm_history", "with": 2, "before": "yesterday"}', "before"),
        ('{"type": "join", "room": "general", "ref": {"a": 1}}', "ref"),
    ],
)
async def test_bad_frames_get_bad_user_input_and_the_connection_stays_usable(
    service: Service, member: Account, data: str, field: str | None
) -> None:
    async with chat_client(service.ws_url, member.token) as ws:
        await ws.send(data)
        reply = await recv(ws)
        assert reply["type"] == "error"
        assert reply["code"] == "BAD_USER_INPUT"
        assert reply.get("field") == field
        sent = json.loads(data) if data.startswith("{") and "ref" in data else {}
        if field != "ref" and "ref" in sent:
            assert reply["ref"] == sent["ref"]
        await _still_usable(ws)


async def test_binary_frames_get_an_error_frame(service: Service, member: Account) -> None:
    async with chat_client(service.ws_url, member.token) as ws:
        await ws.send(b'{"type": "join", "room": "general"}')
        reply = await recv(ws)
        assert reply["code"] == "BAD_USER_INPUT"
        assert "Binary" in reply["message"]
        await _still_usable(ws)


async def test_invalid_utf8_closes_with_1007(service: Service, member: Account) -> None:
    ws = await open_ws(service.ws_url, member.token)
    await recv(ws)
    await ws.send(b'{"type": "\xff\xfe"}', text=True)
    assert await close_code(ws) == 1007


async def test_a_frame_over_64_kib_closes_with_1009(service: Service, member: Account) -> None:
    async with chat_client(service.ws_url, member.token) as ws:
        # 64 KiB exactly is allowed (and refused by the resolver: too long).
        exact = json.dumps({"type": "message", "room": "general", "content": ""})
        exact = exact[:-2] + "x" * (limits.MAX_FRAME_BYTES - len(exact)) + '"}'
        assert len(exact.encode()) == limits.MAX_FRAME_BYTES
        await ws.send(exact)
        assert (await recv(ws))["type"] == "error"
    ws = await open_ws(service.ws_url, member.token)
    await recv(ws)
    await send(ws, {"type": "message", "room": "general", "content": "x" * limits.MAX_FRAME_BYTES})
    assert await close_code(ws) == 1009
    # The server goes on serving.
    async with chat_client(service.ws_url, member.token) as ws:
        await _still_usable(ws)


async def test_ref_is_echoed_as_given_string_or_number(service: Service, member: Account) -> None:
    async with chat_client(service.ws_url, member.token) as ws:
        for ref in ("abc", 12, 1.5, -3, "é🙂"):
            await send(ws, {"type": "room_history", "room": "nowhere", "ref": ref})
            reply = await recv(ws)
            assert reply["ref"] == ref
            assert reply["code"] == "NOT_FOUND"


@pytest.mark.checklist(18, "ws")
async def test_frame_floods_are_throttled_with_rate_limited(
    service: Service, member: Account
) -> None:
    rate = service.settings.ws_frame_rate
    async with chat_client(service.ws_url, member.token) as ws:
        # Cheap frames (a token that does not decode), many more than a burst.
        count = 3 * rate
        for i in range(count):
            await send(ws, {"type": "auth", "token": "not-a-jwt", "ref": i})
        replies = [await recv(ws) for _ in range(count)]
        codes = [r["code"] for r in replies]
        assert codes[0] == "UNAUTHENTICATED"
        limited = [r for r in replies if r["code"] == "RATE_LIMITED"]
        assert limited, codes
        assert all(r["retry_after_ms"] >= 1 for r in limited)
        assert set(codes) == {"UNAUTHENTICATED", "RATE_LIMITED"}
        assert [r["ref"] for r in replies] == list(range(count))
        # A second later the bucket has refilled: frames are served again.
        await asyncio.sleep(1.1)
        reply = await request(ws, {"type": "auth", "token": "not-a-jwt"})
        assert reply["code"] == "UNAUTHENTICATED"


# --- fuzzing a live connection ------------------------------------------------------------------


def _nested(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Lists and objects of ``children`` (a named function: Hypothesis reads
    its source to check that it recurses, which a multi-line lambda defeats)."""
    return st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=8), children, max_size=4
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    _nested,
    max_leaves=12,
)
FRAME_LIKE = st.builds(
    lambda kind, fields: {**fields, "type": kind},
    st.sampled_from(["join", "message", "dm", "room_history", "dm_history", "auth", "x"]),
    st.dictionaries(
        st.sampled_from(["room", "content", "to", "with", "limit", "before", "after", "token"]),
        JSON,
        max_size=5,
    ),
)
PAYLOADS = (
    st.binary(max_size=200)
    | st.text(max_size=200)
    | JSON.map(json.dumps)
    | FRAME_LIKE.map(json.dumps)
)
DOCUMENTED_CLOSES = {1003, 1007, 1008, 1009}


async def test_fuzzed_frames_get_error_frames_never_a_dropped_connection(
    service: Service, member: Account
) -> None:
    """Arbitrary bytes, text and JSON over one live connection: every one is
    answered (any frame type, no 1011), and a sentinel after each still gets
    its reply; a documented close would mean reconnecting."""
    loop = asyncio.get_running_loop()
    state: dict[str, Any] = {"ws": None, "n": 0}

    async def connect() -> ClientConnection:
        ws = await open_ws(service.ws_url, member.token)
        assert (await recv(ws))["type"] == "ready"
        return ws

    async def exchange(payload: str | bytes) -> None:
        ws: ClientConnection = state["ws"] or await connect()
        state["ws"] = ws
        state["n"] += 1
        sentinel = f"sentinel-{state['n']}"
        try:
            await ws.send(payload)
            await send(ws, {"type": "room_history", "room": "nowhere", "ref": sentinel})
            async with asyncio.timeout(5):
                while True:
                    reply = await recv(ws)
                    assert isinstance(reply.get("type"), str), reply
                    assert reply.get("code") != "INTERNAL_SERVER_ERROR", reply
                    if reply.get("ref") == sentinel:
                        assert reply["code"] in {"NOT_FOUND", "RATE_LIMITED"}, reply
                        return
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006
            assert code in DOCUMENTED_CLOSES, (code, payload)
            state["ws"] = None

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(PAYLOADS)
    def fuzz(payload: str | bytes) -> None:
        asyncio.run_coroutine_threadsafe(exchange(payload), loop).result(timeout=30)

    assert threading.current_thread() is threading.main_thread()
    await asyncio.to_thread(fuzz)
    if state["ws"] is not None:
        await state["ws"].close()
    async with chat_client(service.ws_url, member.token) as ws:
        await _still_usable(ws)


ERROR_CODES = {"BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN", "RATE_LIMITED", "UNAUTHENTICATED"}


REPLIES = {"joined", "ack", "message", "dm", "room_history", "dm_history", "ready", "error"}


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


@pytest.mark.checklist(21, "ws")
async def test_browser_origins_are_checked_on_ws(service: Service, member: Account) -> None:
    headers = {**member.headers, "Origin": EVIL}
    assert await handshake_status(service.ws_url, headers) == 403
    # a client that is not a browser sends no Origin
    assert await handshake_status(service.ws_url, member.headers) == 101
    graphql_ws = service.http_url.replace("http://", "ws://", 1) + "/graphql"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            graphql_ws,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            additional_headers=headers,
        ):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.checklist(23, "ws")
async def test_fuzzed_frames_get_error_frames_and_the_server_keeps_serving_on_ws(
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
