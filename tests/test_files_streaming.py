"""Uploads stream: server memory stays flat, and a full disk leaves nothing.

Each test runs ``python -m comptoir serve`` in a process of its own, so its
memory can be read from ``/proc/<pid>/status`` and its limits set apart.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import resource
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.files_helpers import BOUNDARY, UPLOAD, stored_files
from tests.harness import free_port, scratch_database, service_env

MiB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    upload_dir: Path
    log: Path

    def memory_kib(self, field: str) -> int:
        """``VmRSS`` or ``VmHWM`` (peak) of the server process, in KiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"{field} not in /proc status")

    def reset_peak(self) -> None:
        """Make VmHWM start again from the current RSS (Linux >= 4.0)."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")


@asynccontextmanager
async def comptoir_process(
    tmp: Path, *, preexec: Callable[[], None] | None = None, **settings: str
) -> AsyncIterator[Server]:
    (tmp / "db").mkdir()
    log = tmp / "server.log"
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp / "db") as database_url:
        port = free_port()
        env = {
            **os.environ,
            **service_env(database_url, tmp, PORT=str(port), WS_PORT=str(free_port())),
            **settings,
        }
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "comptoir", "serve"],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=preexec,
            )
        server = Server(process, f"http://127.0.0.1:{port}", Path(env["UPLOAD_DIR"]), log)
        try:
            await _wait_ready(server)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _wait_ready(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=2) as client:
        # Up to a minute, as tests/process_helpers.py's server_process: the start
        # of a Python process takes seconds on a machine others load.
        for _ in range(1200):
            if server.process.poll() is not None:
                raise AssertionError(server.log.read_text()[-2000:])
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("server did not start")


async def register(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "/register", json={"email": "big@example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


class Body:
    """A multipart body generated on the fly, hashing the file as it goes."""

    def __init__(self, size: int, *, graphql: bool = False) -> None:
        self.size = size
        self.digest = hashlib.sha256()
        parts = b""
        field = "file"
        if graphql:
            operations = json.dumps({"query": UPLOAD, "variables": {"file": None}})
            parts = _field("operations", operations) + _field("map", '{"0": ["variables.file"]}')
            field = "0"
        self.head = (
            parts
            + (
                f"--{BOUNDARY}\r\n"
                f'Content-Disposition: form-data; name="{field}"; filename="big.bin"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
        )
        self.tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.head
        block = os.urandom(MiB)
        sent = 0
        while sent < self.size:
            piece = block[: min(MiB, self.size - sent)]
            self.digest.update(piece)
            sent += len(piece)
            yield piece
        yield self.tail

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(len(self.head) + self.size + len(self.tail)),
        }


def _field(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    ).encode()


async def post(
    client: httpx.AsyncClient, path: str, body: Body, auth: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(path, content=body.chunks(), headers={**body.headers, **auth})
    assert response.status_code in (200, 201), response.text[:500]
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.slow
async def test_large_uploads_stream_in_bounded_memory(tmp_path: Path) -> None:
    size = 200 * MiB
    async with (
        comptoir_process(tmp_path, MAX_UPLOAD_BYTES=str(size + MiB)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=120) as client,
    ):
        auth = await register(client)
        # Warm up both doors so imports and caches are not counted.
        for path, warm in (("/files", Body(MiB)), ("/graphql", Body(MiB, graphql=True))):
            await post(client, path, warm, auth)
        baseline = server.memory_kib("VmRSS")
        server.reset_peak()

        # REST: 200 MiB streamed to storage.
        rest = Body(size)
        created = await post(client, "/files", rest, auth)
        assert created["size"] == size
        assert created["sha256"] == rest.digest.hexdigest()
        rest_growth = server.memory_kib("VmHWM") - baseline
        assert (await client.delete(created["url"], headers=auth)).status_code == 204

        # GraphQL: 200 MiB, spooled to a temporary file, then to storage.
        gql = Body(size, graphql=True)
        result = await post(client, "/graphql", gql, auth)
        uploaded = result["data"]["uploadFile"]
        assert uploaded["size"] == size
        assert uploaded["sha256"] == gql.digest.hexdigest()
        graphql_growth = server.memory_kib("VmHWM") - baseline
        assert (await client.delete(uploaded["url"], headers=auth)).status_code == 204

    # Peak memory grew by far less than the 200 MiB that went through.
    assert rest_growth < 50 * 1024, f"REST upload grew the server by {rest_growth} KiB"
    assert graphql_growth < 50 * 1024, f"GraphQL upload grew the server by {graphql_growth} KiB"


def _small_file_size_limit() -> None:
    # Writes past 2 MiB fail with EFBIG (Python ignores SIGXFSZ): a full disk.
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 * MiB, 2 * MiB))


@pytest.mark.slow
async def test_full_disk_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    async with (
        comptoir_process(tmp_path, preexec=_small_file_size_limit) as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as client,
    ):
        auth = await register(client)
        # REST: the write fails part way; the partial file goes.
        response = await client.post(
            "/files", content=Body(4 * MiB).chunks(), headers={**Body(4 * MiB).headers, **auth}
        )
        assert response.status_code == 413, response.text
        assert response.json()["error"] == {
            "code": "PAYLOAD_TOO_LARGE",
            "message": "Not enough storage space left for this file.",
        }
        assert stored_files(server.upload_dir) == []
        assert (await client.get("/files", headers=auth)).json() == []
        # GraphQL: refused with the same code, nothing kept.
        gql = Body(4 * MiB, graphql=True)
        response = await client.post(
            "/graphql", content=gql.chunks(), headers={**gql.headers, **auth}
        )
        assert response.status_code in (200, 413), response.text
        codes = [e["extensions"]["code"] for e in response.json()["errors"]]
        assert codes == ["PAYLOAD_TOO_LARGE"]
        assert stored_files(server.upload_dir) == []
        assert (await client.get("/files", headers=auth)).json() == []
        # What fits is still stored.
        small = Body(100 * 1024)
        created = await post(client, "/files", small, auth)
        assert created["sha256"] == small.digest.hexdigest()
        assert len(stored_files(server.upload_dir)) == 1
