"""The chat server's limits, on servers of their own (small limits, short
timeouts): connection caps, Origin, slow readers, timeouts, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.account_helpers import bearer, register
from tests.conftest import Account, MakeAccount
from tests.harness import METRICS_TOKEN, Service, scratch_database
from tests.process_helpers import ServerProcess, process_env, server_process
from tests.ws_helpers import chat_client, close_code, handshake_status, open_ws, recv, request, send

ORIGIN = "https://app.example"
PER_USER = 2
TOTAL = 5
QUEUE_BYTES = 64 * 1024


@pytest.fixture(scope="module")
async def limited(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("ws-limits")
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp) as url:
        env = process_env(
            url,
            tmp,
            CORS_ORIGINS=ORIGIN,
            WS_MAX_CONNECTIONS_PER_USER=str(PER_USER),
            WS_MAX_CONNECTIONS=str(TOTAL),
            WS_MAX_QUEUE_BYTES=str(QUEUE_BYTES),
            WS_CLOSE_TIMEOUT="5",
            # The slow reader answers no ping either: the keepalive must not
            # cut it before it is lagged out, however long filling its
            # buffers takes on a loaded machine.
            WS_PING_INTERVAL="300",
            WS_PING_TIMEOUT="300",
            WS_FRAME_RATE="100000",
            MESSAGES_PER_WINDOW="100000",
            REGISTER_IP_MAX="1000",
        )
        async with server_process(env) as server:
            yield server


@pytest.fixture(scope="module")
async def users(limited: ServerProcess) -> list[tuple[int, str]]:
    async with limited.client() as http:
        return [await register(http, f"limits{i}@example.com") for i in range(4)]


async def _wait_for_slots(server: ServerProcess, token: str) -> None:
    """Connections of earlier tests are released when their TCP connection ends."""
    for _ in range(50):
        if await handshake_status(server.ws_url, bearer(token)) == 101:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("connection slots were not released")


@pytest.mark.slow
async def test_connections_are_capped_per_user_then_in_total(
    limited: ServerProcess, users: list[tuple[int, str]]
) -> None:
    tokens = [token for _, token in users]
    await _wait_for_slots(limited, tokens[0])
    opened: list[ClientConnection] = []
    try:
        for _ in range(PER_USER):
            opened.append(await open_ws(limited.ws_url, tokens[0]))
        assert await handshake_status(limited.ws_url, bearer(tokens[0])) == 429
        for token in tokens[1:]:
            while len(opened) < TOTAL and await _opens(limited, token, opened):
                pass
        assert len(opened) == TOTAL
        assert await handshake_status(limited.ws_url, bearer(tokens[3])) == 503
        # The open ones work; closing one frees its slot.
        assert (await recv(opened[0]))["type"] == "ready"
        await opened.pop(0).close()
        await _wait_for_slots(limited, tokens[0])
    finally:
        for ws in opened:
            await ws.close()


async def _opens(server: ServerProcess, token: str, opened: list[ClientConnection]) -> bool:
    """Open one more connection for ``token``; False when refused for this user."""
    from websockets.exceptions import InvalidStatus

    status = 101
    try:
        opened.append(await open_ws(server.ws_url, token))
    except InvalidStatus as refused:
        status = refused.response.status_code
    assert status in (101, 429)
    return status == 101


@pytest.mark.slow
async def test_a_browser_origin_must_be_listed(
    limited: ServerProcess, users: list[tuple[int, str]]
) -> None:
    token = users[0][1]
    await _wait_for_slots(limited, token)
    for origin, status in (
        (ORIGIN, 101),
        (ORIGIN + "/", 101),
        ("https://evil.example", 403),
        ("null", 403),
        ("https://app.example.evil.example", 403),
    ):
        assert await handshake_status(limited.ws_url, {**bearer(token), "Origin": origin}) == status


@pytest.mark.slow
async def test_a_slow_reader_is_closed_with_1008_and_never_slows_a_fast_one(
    limited: ServerProcess, users: list[tuple[int, str]]
) -> None:
    (_, sender), (_, fast_token), (_, slow_token) = users[:3]
    await _wait_for_slots(limited, sender)
    async with limited.client() as http:
        response = await http.post("/chat/rooms", json={"name": "busy"}, headers=bearer(sender))
        assert response.status_code == 201
    # The slow client has a tiny receive buffer and stops reading after joining.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(limited.ws_url.rsplit(":", 1)[1])))
    sock.setblocking(False)
    # It sends no pings of its own (its keepalive would give up on the
    # server's pongs, stuck behind what it does not read, and end it with 1006).
    slow = await connect(
        limited.ws_url,
        sock=sock,
        additional_headers=bearer(slow_token),
        max_queue=1,
        ping_interval=None,
    )
    # More than the kernel can buffer between the two ends (the server's
    # send buffer grows up to tcp_wmem's maximum), plus a margin.
    content = "\U0001f600" * 4000  # 16 kB of UTF-8 per message
    count = (_max_send_buffer() + 1024 * 1024) // len(content.encode()) + 1
    received: list[int] = []
    async with chat_client(limited.ws_url, fast_token) as fast:
        for ws in (slow, fast):
            await send(ws, {"type": "join", "room": "busy", "ref": "j"})
        assert (await recv(slow))["type"] == "ready"
        assert (await recv(slow))["type"] == "joined"
        assert (await recv(fast))["type"] == "joined"

        async def read_fast() -> None:
            while len(received) < count:
                frame = await recv(fast, timeout=20)
                assert frame["type"] == "message"
                received.append(frame["id"])

        reader = asyncio.create_task(read_fast())
        async with chat_client(limited.ws_url, sender) as ws:
            for i in range(count):
                await send(ws, {"type": "message", "room": "busy", "content": content, "ref": i})
                ack = await recv(ws, timeout=20)
                assert ack["type"] == "ack", ack
        await asyncio.wait_for(reader, 20)
    # The fast reader got everything, in order; the slow one was cut off.
    assert received == sorted(received)
    assert len(set(received)) == count
    code, got = await _drain(slow)
    assert code == 1008, (code, got)
    assert got < count
    async with limited.client() as http:
        scraped = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    closes = [
        sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
        if sample.name == "comptoir_ws_slow_reader_closes_total"
        and sample.labels == {"server": "chat"}
    ]
    assert closes[0] >= 1


def _max_send_buffer() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 * 1024 * 1024


async def _drain(ws: ClientConnection) -> tuple[int, int]:
    """Read a connection to its end: (close code, messages read)."""
    got = 0
    try:
        async with asyncio.timeout(20):
            while True:
                await ws.recv()
                got += 1
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else 1006), got
    raise AssertionError("unreachable")


# --- timeouts and shutdown: servers of their own ----------------------------------------------


@pytest.fixture
async def quick(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, Path]]:
    """A server with 1 s open, ping and close timeouts, logging to a file."""
    log = tmp_path / "server.log"
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as url:
        env = process_env(
            url,
            tmp_path,
            WS_OPEN_TIMEOUT="1",
            WS_PING_INTERVAL="1",
            WS_PING_TIMEOUT="1",
            WS_CLOSE_TIMEOUT="1",
            MESSAGES_PER_WINDOW="100000",
            LOG_LEVEL="info",
        )
        async with server_process(env, log=log) as server:
            yield server, log


async def _raw_handshake(server: ServerProcess, token: str) -> socket.socket:
    """A socket past the handshake that then never reads nor writes."""
    port = int(server.ws_url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    return sock


async def _until_eof(sock: socket.socket, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    data = b""
    async with asyncio.timeout(timeout):
        while chunk := await loop.sock_recv(sock, 65536):
            data += chunk
    return data


@pytest.mark.slow
async def test_handshake_and_idle_timeouts_end_silent_connections(
    quick: tuple[ServerProcess, Path],
) -> None:
    server, _ = quick
    async with server.client() as http:
        _, token = await register(http, "quiet@example.com")
    port = int(server.ws_url.rsplit(":", 1)[1])
    # Connected, never sends a handshake: dropped after WS_OPEN_TIMEOUT.
    silent = socket.create_connection(("127.0.0.1", port))
    assert await _until_eof(silent, timeout=5) == b""
    silent.close()
    # Past the handshake, never answers pings: closed after ping interval + timeout.
    idle = await _raw_handshake(server, token)
    data = await _until_eof(idle, timeout=8)
    idle.close()
    assert data.startswith(b"HTTP/1.1 101 ")
    assert b'"type":"ready"' in data
    # The server closed it with 1011 (keepalive timeout): close frame, code, reason.
    assert data.endswith(b"\x03\xf3keepalive ping timeout")


@pytest.mark.slow
async def test_sigterm_closes_every_connection_with_1001_and_exits_cleanly(
    quick: tuple[ServerProcess, Path],
) -> None:
    server, log = quick
    async with server.client() as http:
        (_, alice), (bob_id, bob) = [await register(http, f"u{i}@example.com") for i in range(2)]
        await http.post("/chat/rooms", json={"name": "general"}, headers=bearer(alice))
    listener = await open_ws(server.ws_url, bob)
    talker = await open_ws(server.ws_url, alice)
    await recv(listener)
    await recv(talker)
    assert (await request(listener, {"type": "join", "room": "general"}))["type"] == "joined"

    async def talk() -> None:
        i = 0
        while True:  # until the server closes the connection
            await send(talker, {"type": "message", "room": "general", "content": f"{i}"})
            await send(talker, {"type": "dm", "to": bob_id, "content": f"{i}"})
            i += 1
            await asyncio.sleep(0.01)

    chatter = asyncio.create_task(talk())
    await asyncio.sleep(0.3)  # mid-traffic
    server.process.send_signal(signal.SIGTERM)
    codes = await asyncio.gather(close_code(listener, timeout=15), close_code(talker, timeout=15))
    assert list(codes) == [1001, 1001]
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(chatter, 5)
    returncode = await server.stop(timeout=15)
    # uvicorn re-raises the SIGTERM it handled once shut down.
    assert returncode in (0, -signal.SIGTERM)
    output = log.read_text()
    assert "Application shutdown complete" in output, output[-2000:]
    assert "Traceback" not in output, output[-4000:]
    assert " ERROR " not in output, output[-4000:]


MiB = 1024 * 1024


DEEP = b"[" * 10_000 + b"]" * 10_000


@pytest.mark.checklist(16, "ws")
async def test_huge_frames_close_1009_and_deep_ones_are_bad_input_on_ws(
    service: Service, member: Account
) -> None:
    async with chat_client(service.ws_url, member.token) as ws:
        await ws.send(b'{"type": "join", "ref": 1, "room": ' + DEEP + b"}")
        assert (await recv(ws))["code"] == "BAD_USER_INPUT"
        await ws.send('{"type": "join", "ref": 2, "room": ' + "[" * 10_000 + "]" * 10_000 + "}")
        assert (await recv(ws))["code"] == "BAD_USER_INPUT"
        await send(ws, {"type": "message", "room": "r", "content": "x" * (2 * MiB)})
        assert await close_code(ws) == 1009


@pytest.mark.checklist(18, "ws")
async def test_connections_per_user_are_capped_on_ws(
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
