"""Shared pieces: processes, ports, memory, percentiles, a small HTTP client, wrk.

Everything talks to 127.0.0.1 only, and every loop is bounded in count and
in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
JWT_SECRET = "bench-secret-" + "b" * 60
PASSWORD = "bench-password"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    """A child process (server or client) that is always stopped."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


def start_process(name: str, args: Sequence[str], env: Mapping[str, str], workdir: Path) -> Proc:
    log_path = workdir / f"{name}.log"
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    handle = log_path.open("wb")
    popen = subprocess.Popen(
        list(args),
        cwd=ROOT,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()
    return Proc(name, popen, log_path)


async def wait_http(proc: Proc, url: str, within: float = 60.0) -> None:
    """Wait until ``url`` answers 200 (the process must stay alive)."""
    deadline = time.monotonic() + within
    client = HttpClient.from_url(url)
    path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
    try:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
            try:
                status, _ = await asyncio.wait_for(client.request("GET", path), 2)
                if status == 200:
                    return
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                await client.close()
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    raise RuntimeError(f"{proc.name} did not answer {url} in {within}s:\n{proc.tail()}")


async def wait_tcp(proc: Proc, port: int, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        try:
            _, writer = await asyncio.open_connection(HOST, port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not listen on {port} in {within}s")


def comptoir_env(
    database_url: str, workdir: Path, port: int, ws_port: int, **extra: str
) -> dict[str, str]:
    """Production settings (DEMO=0, a JWT secret, warnings only)."""
    env = {
        "DATABASE_URL": database_url,
        "BROADCAST_URL": "memory://",
        "PUBSUB_PREFIX": f"bench-{os.getpid()}",
        "JWT_SECRET": JWT_SECRET,
        "DEMO": "0",
        "LOG_LEVEL": "warning",
        "HOST": HOST,
        "PORT": str(port),
        "WS_PORT": str(ws_port),
        "UPLOAD_DIR": str(workdir / "uploads"),
        "BCRYPT_ROUNDS": "12",
    }
    env.update(extra)
    return env


@dataclass
class Server:
    proc: Proc
    http_url: str
    ws_url: str


async def start_comptoir(
    name: str,
    database_url: str,
    workdir: Path,
    extra: Mapping[str, str] | None = None,
    *,
    migrate: bool = False,
    cpus: str | None = None,
) -> Server:
    """A Comptoir server; with ``cpus`` pinned to those cores (``taskset``)."""
    port, ws_port = free_port(), free_port()
    args = [*pinned(cpus), sys.executable, "-m", "comptoir", "serve"]
    if not migrate:
        args.append("--no-migrate")
    proc = start_process(
        name, args, comptoir_env(database_url, workdir, port, ws_port, **(extra or {})), workdir
    )
    http_url = f"http://{HOST}:{port}"
    try:
        await wait_http(proc, http_url + "/health")
    except BaseException:
        proc.stop()
        raise
    return Server(proc, http_url, f"ws://{HOST}:{ws_port}")


def pinned(cpus: str | None) -> list[str]:
    """The command prefix that pins a process to ``cpus`` (taskset execs, same pid)."""
    if cpus is None:
        return []
    if shutil.which("taskset") is None:
        raise RuntimeError("taskset is needed to pin processes to cores")
    return ["taskset", "-c", cpus]


@contextlib.contextmanager
def workspace(keep: bool = False) -> Any:
    path = Path(tempfile.mkdtemp(prefix="comptoir-bench-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- HTTP client


class HttpClient:
    """One keep-alive HTTP/1.1 connection: small and cheap, for paced probes."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.last_headers: dict[str, str] = {}

    @classmethod
    def from_url(cls, url: str) -> HttpClient:
        match = re.match(r"https?://([^:/]+):(\d+)", url)
        if not match:
            raise ValueError(url)
        return cls(match.group(1), int(match.group(2)))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self._writer.write(head + (body or b""))
        try:
            raw = await self._reader.readuntil(b"\r\n\r\n")
            status = int(raw.split(b" ", 2)[1])
            length = 0
            chunked = False
            close = False
            self.last_headers = {}
            for header in raw.split(b"\r\n")[1:]:
                raw_name, _, raw_value = header.partition(b":")
                key = raw_name.strip().lower()
                self.last_headers[key.decode("latin-1")] = raw_value.strip().decode("latin-1")
                if key == b"content-length":
                    length = int(raw_value)
                elif key == b"transfer-encoding" and b"chunked" in raw_value.lower():
                    chunked = True
                elif key == b"connection" and b"close" in raw_value.lower():
                    close = True
            if chunked:
                parts = []
                while True:
                    size = int((await self._reader.readuntil(b"\r\n")).strip(), 16)
                    parts.append(await self._reader.readexactly(size + 2))
                    if size == 0:
                        break
                data = b"".join(p[:-2] for p in parts)
            else:
                data = await self._reader.readexactly(length)
        except BaseException:
            await self.close()
            raise
        if close:
            await self.close()
        return status, data

    async def json(
        self, method: str, path: str, payload: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = None if payload is None else json.dumps(payload).encode()
        status, data = await self.request(method, path, body, headers)
        return status, json.loads(data) if data else None


# --------------------------------------------------------------------------- load generation


@dataclass
class Throughput:
    requests_per_second: float
    requests: int
    errors: int
    tool: str
    detail: dict[str, Any] = field(default_factory=dict)


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk_script(workdir: Path, method: str, body: bytes | None, headers: Mapping[str, str]) -> Path:
    key = (method, body, tuple(sorted(headers.items())))
    path = workdir / f"wrk-{abs(hash(key)) % 10**8}.lua"
    lua = [f'wrk.method = "{method}"']
    if body is not None:
        lua.append(f"wrk.body = {json.dumps(body.decode())}")
    for name, value in headers.items():
        lua.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    path.write_text("\n".join(lua) + "\n")
    return path


def start_wrk(
    url: str,
    *,
    seconds: float,
    threads: int,
    connections: int,
    script: Path | None = None,
    cpus: str | None = None,
) -> subprocess.Popen[str]:
    args = [
        *pinned(cpus),
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, int(seconds))}s",
        "--timeout",
        "5s",
    ]
    if script is not None:
        args += ["-s", str(script)]
    args.append(url)
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def parse_wrk(output: str) -> Throughput:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if not rate or not total:
        raise RuntimeError(f"cannot read wrk output:\n{output}")
    errors = int(bad.group(1)) if bad else 0
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return Throughput(float(rate.group(1)), int(total.group(1)), errors, "wrk")


async def run_wrk(
    url: str,
    *,
    seconds: float,
    threads: int,
    connections: int,
    script: Path | None = None,
) -> Throughput:
    proc = start_wrk(url, seconds=seconds, threads=threads, connections=connections, script=script)
    out, _ = await asyncio.to_thread(proc.communicate, None, seconds + 30)
    return parse_wrk(out)


async def load(
    url: str,
    *,
    seconds: float,
    connections: int = 8,
    threads: int = 2,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    workdir: Path,
) -> Throughput:
    """Closed-loop load at fixed concurrency for a fixed time (wrk, else Python)."""
    headers = dict(headers or {})
    if have_wrk():
        script = None
        if method != "GET" or body is not None or headers:
            script = wrk_script(workdir, method, body, headers)
        return await run_wrk(
            url, seconds=seconds, threads=threads, connections=connections, script=script
        )
    return await python_load(
        url,
        seconds=seconds,
        connections=connections,
        processes=threads,
        method=method,
        body=body,
        headers=headers,
    )


async def python_load(
    url: str,
    *,
    seconds: float,
    connections: int,
    processes: int,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    cpus: str | None = None,
) -> Throughput:
    """The fallback load generator: ``bench.loadgen`` in separate processes."""
    spec = json.dumps(
        {
            "url": url,
            "seconds": seconds,
            "connections": max(1, connections // processes),
            "method": method,
            "body": body.decode() if body is not None else None,
            "headers": dict(headers or {}),
        }
    )
    procs = [
        await asyncio.create_subprocess_exec(
            *pinned(cpus),
            sys.executable,
            "-m",
            "bench.loadgen",
            spec,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    outs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), seconds + 60)
    results = [json.loads(out) for out, _ in outs]
    requests = sum(r["requests"] for r in results)
    errors = sum(r["errors"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    return Throughput(requests / elapsed, requests, errors, "python")


@contextlib.asynccontextmanager
async def scratch_postgres(admin_url: str) -> AsyncIterator[str]:
    """A PostgreSQL database of our own on the admin URL's server, dropped after."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import asyncpg

    parts = urlsplit(admin_url)
    name = f"comptoir_bench_{uuid.uuid4().hex[:10]}"
    admin = urlunsplit(("postgresql", parts.netloc, parts.path or "/postgres", "", ""))
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield urlunsplit(("postgres", parts.netloc, f"/{name}", "", ""))
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def module_output(module: str, *args: str, within: float) -> tuple[bytes, int]:
    """``python -m module args``: its stdout and exit status, within a time
    limit (killed, and TimeoutError, past it)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, limit=2**24
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), within)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return out, proc.returncode or 0


async def run_module(module: str, *args: str, within: float) -> Any:
    """``python -m module args``: its stdout's JSON, within a time limit."""
    out, status = await module_output(module, *args, within=within)
    if status:
        raise RuntimeError(f"python -m {module} failed ({status})")
    return json.loads(out)


async def seed_members(letter: str, count: int) -> None:
    """``count`` MEMBER accounts ``{letter}1@bench.test``... in one insert
    (a bench's own database, its models already initialised)."""
    from models import Role, User

    await User.bulk_create(
        [
            User(
                email=f"{letter}{i}@bench.test",
                email_key=f"{letter}{i}@bench.test",
                password_hash="x",
                display_name=f"{letter.upper()}{i}",
                role=Role.MEMBER,
            )
            for i in range(1, count + 1)
        ]
    )
