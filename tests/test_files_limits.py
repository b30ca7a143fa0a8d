"""Upload limits: size (true, false and no Content-Length), disconnects, quota."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Account, MakeAccount, OverrideSettings, error_codes
from tests.files_helpers import BOUNDARY, multipart, part, stored_files, upload
from tests.harness import Service

MiB = 1024 * 1024
CHUNK = 256 * 1024
MULTIPART_HEADERS = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def file_head(filename: str = "big.bin") -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


def body_size(file_size: int) -> int:
    return len(file_head()) + file_size + len(TAIL)


async def multipart_stream(file_size: int) -> AsyncIterator[bytes]:
    """A multipart body with ``file_size`` bytes of file, produced lazily."""
    yield file_head()
    block = bytes(range(256)) * (CHUNK // 256)
    sent = 0
    while sent < file_size:
        piece = block[: min(CHUNK, file_size - sent)]
        sent += len(piece)
        yield piece
    yield TAIL


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text[:500]
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def assert_nothing_stored(http: httpx.AsyncClient, account: Account, directory: Path) -> None:
    assert stored_files(directory) == []
    assert (await http.get("/files", headers=account.headers)).json() == []


async def test_upload_over_limit_with_true_content_length(
    http: httpx.AsyncClient, member: Account, service: Service, upload_dir: Path
) -> None:
    # Given a body declared (truthfully) a little larger than allowed
    size = service.settings.max_upload_bytes + MiB
    headers = {**MULTIPART_HEADERS, **member.headers, "Content-Length": str(body_size(size))}
    # When a client sends it all before reading, then it still reads a 413
    response = await http.post("/files", content=multipart_stream(size), headers=headers)
    assert_too_large(response)
    await assert_nothing_stored(http, member, upload_dir)


async def test_huge_declared_upload_is_refused_before_reading(
    http: httpx.AsyncClient, member: Account, service: Service, upload_dir: Path
) -> None:
    # Given a client that declares 1 GiB and waits for the go-ahead
    port = urlsplit(service.http_url).port or 0
    head = request_head(member, 1024 * MiB, port)
    head = head[:-2] + b"Expect: 100-continue\r\n\r\n"
    # When the headers arrive, then the answer is a 413, not "100 Continue"
    status, content = await raw_request(service, head, b"")
    assert status == 413
    assert json.loads(content)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    await assert_nothing_stored(http, member, upload_dir)


async def test_upload_one_byte_over_limit(
    http: httpx.AsyncClient, member: Account, service: Service, upload_dir: Path
) -> None:
    # The body fits the middleware's multipart allowance; the file does not.
    size = service.settings.max_upload_bytes + 1
    headers = {**MULTIPART_HEADERS, **member.headers, "Content-Length": str(body_size(size))}
    response = await http.post("/files", content=multipart_stream(size), headers=headers)
    assert_too_large(response)
    assert str(service.settings.max_upload_bytes) in response.json()["error"]["message"]
    await assert_nothing_stored(http, member, upload_dir)


async def test_upload_over_limit_chunked(
    http: httpx.AsyncClient, member: Account, service: Service, upload_dir: Path
) -> None:
    # No Content-Length at all: the server counts as the bytes arrive.
    size = service.settings.max_upload_bytes + 2 * MiB
    headers = {**MULTIPART_HEADERS, **member.headers}
    response = await http.post("/files", content=multipart_stream(size), headers=headers)
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert_too_large(response)
    await assert_nothing_stored(http, member, upload_dir)


async def test_exact_limit_is_accepted_and_one_more_byte_is_not(
    http: httpx.AsyncClient, member: Account, override_settings: OverrideSettings, upload_dir: Path
) -> None:
    override_settings(max_upload_bytes=MiB)
    data = b"z" * MiB
    accepted = await upload(http, member, data)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["sha256"] == hashlib.sha256(data).hexdigest()
    refused = await upload(http, member, data + b"z")
    assert_too_large(refused)
    assert "upload limit of 1048576 bytes" in refused.json()["error"]["message"]
    assert len(stored_files(upload_dir)) == 1


async def raw_request(
    service: Service, head: bytes, body: bytes, *, then: bytes = b""
) -> tuple[int, bytes]:
    """Send bytes as they are; return the first response's status and body.

    ``then`` is written after that response has been read, and the
    connection is expected to be closed by the server, with or without an
    error response.
    """
    url = urlsplit(service.http_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        content = await reader.readexactly(int(headers.get("content-length", "0")))
        if then:
            writer.write(then)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
                rest = await asyncio.wait_for(reader.read(), 10)
                assert rest == b"" or rest.startswith(b"HTTP/1.1 400"), rest[:200]
        return int(status_line.split()[1]), content
    finally:
        writer.close()


def request_head(account: Account, content_length: int | None, port: int) -> bytes:
    lines = [
        "POST /files HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Authorization: Bearer {account.token}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
    ]
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_false_content_length_cannot_smuggle_a_larger_file(
    http: httpx.AsyncClient, member: Account, service: Service, upload_dir: Path
) -> None:
    # Given a body that declares 400 bytes but carries 2 MiB
    body, _ = multipart(part("file", b"q" * (2 * MiB), filename="lie.bin"))
    port = urlsplit(service.http_url).port or 0
    # When it is sent, then only the declared bytes are the body: the
    # multipart message ends early, which is refused
    head = request_head(member, 400, port)
    status, content = await raw_request(service, head, body[:400], then=body[400:])
    assert status == 422
    assert json.loads(content)["error"]["code"] == "BAD_USER_INPUT"
    await assert_nothing_stored(http, member, upload_dir)


async def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_disconnect_mid_upload_leaves_nothing(
    http: httpx.AsyncClient, member: Account, service: Service, upload_dir: Path, framing: str
) -> None:
    # Given a client that announces 8 MiB and sends half of it
    url = urlsplit(service.http_url)
    size = 8 * MiB
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    chunked = framing == "chunked"
    head = request_head(member, None if chunked else body_size(size), url.port or 0)
    if chunked:
        head = head[:-2] + b"Transfer-Encoding: chunked\r\n\r\n"
    writer.write(head)
    first = file_head() + b"h" * (size // 2)
    writer.write(b"%x\r\n%s\r\n" % (len(first), first) if chunked else first)
    await writer.drain()
    # and whose partial file is being written
    await wait_for(lambda: any(p.name.startswith(".part-") for p in stored_files(upload_dir)))
    # When it goes away
    writer.close()
    await writer.wait_closed()
    # Then the partial file goes too, and no row was written
    await wait_for(lambda: stored_files(upload_dir) == [])
    assert (await http.get("/files", headers=member.headers)).json() == []
    # and the server keeps serving
    assert (await upload(http, member, b"after")).status_code == 201


async def test_quota_refuses_what_does_not_fit(
    http: httpx.AsyncClient,
    make_account: MakeAccount,
    override_settings: OverrideSettings,
    upload_dir: Path,
) -> None:
    # Given a quota of 100 KiB per user
    override_settings(user_quota_bytes=100 * 1024)
    alice, bob = await make_account(), await make_account()
    first = await upload(http, alice, b"a" * 60 * 1024)
    assert first.status_code == 201
    # When alice uploads past it, she gets PAYLOAD_TOO_LARGE with a clear message
    second = await upload(http, alice, b"b" * 60 * 1024)
    assert_too_large(second)
    assert second.json()["error"]["message"] == (
        "Storage quota exceeded: each user may store at most 102400 bytes."
    )
    assert len(stored_files(upload_dir)) == 1
    # while what fits still goes in, and bob has a quota of his own
    assert (await upload(http, alice, b"c" * 40 * 1024)).status_code == 201
    assert (await upload(http, bob, b"d" * 60 * 1024)).status_code == 201
    # and a full quota refuses even an empty file
    assert_too_large(await upload(http, alice, b""))
    # Deleting frees the space.
    assert (await http.delete(first.json()["url"], headers=alice.headers)).status_code == 204
    assert (await upload(http, alice, b"e" * 60 * 1024)).status_code == 201
    sizes = sorted(f["size"] for f in (await http.get("/files", headers=alice.headers)).json())
    assert sizes == [40 * 1024, 60 * 1024]


async def test_concurrent_uploads_cannot_overrun_the_quota(
    http: httpx.AsyncClient, member: Account, override_settings: OverrideSettings, upload_dir: Path
) -> None:
    override_settings(user_quota_bytes=100 * 1024)
    results = await asyncio.gather(*(upload(http, member, b"x" * 40 * 1024) for _ in range(5)))
    assert sorted(r.status_code for r in results) == [201, 201, 413, 413, 413]
    assert len(stored_files(upload_dir)) == 2
    listed = (await http.get("/files", headers=member.headers)).json()
    assert sum(f["size"] for f in listed) == 80 * 1024


@pytest.fixture
def small_uploads(override_settings: OverrideSettings) -> int:
    override_settings(max_upload_bytes=4096)
    return 4096


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


@pytest.mark.checklist(17, "rest")
async def test_oversized_and_many_part_uploads_leave_nothing_on_rest(
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


@pytest.mark.checklist(17, "graphql")
async def test_oversized_and_many_part_uploads_leave_nothing_on_graphql(
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


@pytest.mark.checklist(17, "rest", "graphql")
async def test_a_false_content_length_cannot_smuggle_a_larger_file_on_rest_and_graphql(
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
