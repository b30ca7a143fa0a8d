"""Slow and anonymous clients, with raw sockets (issue 11, findings 7 and 8).

- An anonymous GraphQL multipart upload is refused before its body is read.
- Headers that never finish, a body that stops arriving, and an idle
  kept-alive connection are all cut (HTTP_HEADER_TIMEOUT, HTTP_BODY_TIMEOUT,
  HTTP_KEEPALIVE_TIMEOUT), while other clients are served.

The timed server runs as ``python -m comptoir serve``, with 1-second timeouts.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.account_helpers import bearer, register
from tests.harness import Service, scratch_database
from tests.process_helpers import ServerProcess, process_env, server_process

pytestmark = [pytest.mark.slow, pytest.mark.once]

TIMEOUT = 1  # seconds, for each of the three settings
BOUNDARY = "xXxBoundaryxXx"


@pytest.fixture(scope="module")
async def slow_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("slow")
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp) as url:
        env = process_env(
            url,
            tmp,
            HTTP_HEADER_TIMEOUT=str(TIMEOUT),
            HTTP_BODY_TIMEOUT=str(TIMEOUT),
            HTTP_KEEPALIVE_TIMEOUT=str(TIMEOUT),
        )
        async with server_process(env) as server:
            yield server


async def _connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return await asyncio.open_connection(parts.hostname, parts.port)


async def _until_closed(reader: asyncio.StreamReader, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes; and how long that took."""
    start = time.monotonic()
    data = b""
    async with asyncio.timeout(within):
        while chunk := await reader.read(65536):
            data += chunk
    return data, time.monotonic() - start


def _multipart_head(path: str, length: int, token: str | None, host: str = "x") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _graphql_upload_start() -> bytes:
    operations = json.dumps(
        {
            "query": "mutation ($f: Upload!) { uploadFile(file: $f) { id } }",
            "variables": {"f": None},
        }
    )
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f'{operations}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        f'{{"0": ["variables.f"]}}\r\n--{BOUNDARY}\r\n'
        'Content-Disposition: form-data; name="0"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + b"x" * 1024


async def test_anonymous_graphql_upload_is_refused_before_its_body(service: Service) -> None:
    reader, writer = await _connect(service.http_url)
    try:
        # Announces 20 MB and sends 1 KiB of it: the answer must not wait for the rest.
        writer.write(_multipart_head("/graphql", 20 * 1024 * 1024, None))
        writer.write(_graphql_upload_start())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 5)
        assert status.startswith(b"HTTP/1.1 401"), status
    finally:
        writer.close()


async def test_a_stalled_graphql_upload_is_cut_with_408(slow_server: ServerProcess) -> None:
    async with slow_server.client() as http:
        _user_id, token = await register(http, "uploader@example.com")
    reader, writer = await _connect(slow_server.http_url)
    try:
        writer.write(_multipart_head("/graphql", 5 * 1024 * 1024, token))
        writer.write(_graphql_upload_start())
        await writer.drain()
        data, elapsed = await _until_closed(reader, 10)
        assert data.startswith(b"HTTP/1.1 408"), data[:200]
        assert elapsed < TIMEOUT + 3
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("head", "body"),
    [
        (
            b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n",
            b'{"email": ',
        ),
        (_multipart_head("/files", 5 * 1024 * 1024, "TOKEN"), b"--" + BOUNDARY.encode()),
    ],
    ids=["json", "rest-upload"],
)
async def test_a_slow_body_is_cut_with_408(
    slow_server: ServerProcess, head: bytes, body: bytes
) -> None:
    if b"TOKEN" in head:
        async with slow_server.client() as http:
            _user_id, token = await register(http, f"slow{time.monotonic_ns()}@example.com")
        head = head.replace(b"TOKEN", token.encode())
    reader, writer = await _connect(slow_server.http_url)
    try:
        writer.write(head + body)
        await writer.drain()
        data, elapsed = await _until_closed(reader, 10)
        assert data.startswith(b"HTTP/1.1 408"), data[:200]
        assert elapsed < TIMEOUT + 3
    finally:
        writer.close()


async def test_headers_that_never_finish_are_cut(slow_server: ServerProcess) -> None:
    silent_reader, silent = await _connect(slow_server.http_url)
    trickle_reader, trickle = await _connect(slow_server.http_url)
    try:

        async def drip() -> None:
            # A byte every 200 ms: data keeps arriving, headers never end.
            for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
                trickle.write(bytes([byte]))
                await trickle.drain()
                await asyncio.sleep(0.2)

        dripping = asyncio.create_task(drip())
        silent_data, silent_time = await _until_closed(silent_reader, 10)
        trickle_data, trickle_time = await _until_closed(trickle_reader, 10)
        dripping.cancel()
        assert silent_time < TIMEOUT + 3
        assert trickle_time < TIMEOUT + 3
        for data in (silent_data, trickle_data):
            assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]
    finally:
        silent.close()
        trickle.close()


async def test_an_idle_kept_alive_connection_is_closed(slow_server: ServerProcess) -> None:
    reader, writer = await _connect(slow_server.http_url)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        data, elapsed = await _until_closed(reader, 10)
        assert data.startswith(b"HTTP/1.1 200"), data[:200]
        assert elapsed < TIMEOUT + 3
    finally:
        writer.close()


async def test_other_clients_are_served_while_slow_ones_wait(slow_server: ServerProcess) -> None:
    sockets = [await _connect(slow_server.http_url) for _ in range(30)]
    try:
        for _reader, writer in sockets:
            writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        async with slow_server.client() as http:
            for _ in range(5):
                response = await http.get("/health")
                assert response.status_code == 200
            _user_id, token = await register(http, "busy@example.com")
            me = await http.get("/me", headers=bearer(token))
            assert me.status_code == 200
        # And every slow socket is gone a little after the header timeout.
        for reader, _writer in sockets:
            await _until_closed(reader, TIMEOUT + 5)
    finally:
        for _reader, writer in sockets:
            writer.close()
