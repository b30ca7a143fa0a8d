"""Fan-out: one sender, N receivers in other processes; throughput, latency, memory.

Phases: 1 warm-up message, then a burst (messages sent back to back:
delivered msg/s = deliveries / (last arrival - first send)), then a paced
run at a fixed rate (p50/p99 latency from send to arrival). The server's
RSS is read before and after the receivers connect (idle memory per
connection), and its CPU time (user + system, from /proc) before and after
the burst: CPU per delivery, which load from other processes on the machine
does not inflate the way it inflates wall-clock throughput.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.common import ROOT, HttpClient, cpu_seconds, log, percentile, rss_kib
from bench.report import Line

Send = Callable[[str], Awaitable[None]]


def content(seq: int) -> str:
    return f"s={seq} t={time.monotonic():.6f}"


@dataclass
class FanoutResult:
    clients: int
    burst: int
    paced: int
    rate: float
    throughput: float  # delivered msg/s in the burst
    p50: float  # paced latency, ms
    p99: float
    burst_p99: float
    rss_per_connection_kib: float
    # Server CPU (user + system) during the burst, per delivery, in microseconds.
    cpu_us_per_delivery: float
    delivered: int
    expected: int
    duplicates: int
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Probe:
    """Runs beside a fan-out (burst and paced phases): see ``bench.gql_bench``."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Sender:
    """Sends one message; subclasses pick the door."""

    async def open(self) -> None: ...

    async def send(self, text: str) -> None:
        raise NotImplementedError

    async def close(self) -> None: ...


class RawSender(Sender):
    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None

    async def open(self) -> None:
        self.ws = await connect(self.url, compression=None)

    async def send(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send(text)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


class ChatWsSender(Sender):
    """The chat WebSocket door: ``message`` frames; acks and errors are drained."""

    def __init__(self, url: str, token: str, room: str) -> None:
        self.url, self.token, self.room = url, token, room
        self.ws: ClientConnection | None = None
        self.errors: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.ws = await connect(
            self.url, additional_headers={"Authorization": f"Bearer {self.token}"}, compression=None
        )
        json.loads(await self.ws.recv())  # ready
        self._reader = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        assert self.ws is not None
        async for frame in self.ws:
            if '"error"' in str(frame):
                self.errors.append(str(frame)[:200])

    async def send(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps({"type": "message", "room": self.room, "content": text}))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self.ws is not None:
            await self.ws.close()


class RestSender(Sender):
    def __init__(self, http_url: str, token: str, room: str) -> None:
        self.client = HttpClient.from_url(http_url)
        self.token, self.room = token, room

    async def send(self, text: str) -> None:
        status, body = await self.client.json(
            "POST", f"/chat/rooms/{self.room}/messages", {"content": text}, token=self.token
        )
        if status != 201:
            raise RuntimeError(f"POST message: {status} {body}")

    async def close(self) -> None:
        await self.client.close()


@dataclass
class Worker:
    proc: asyncio.subprocess.Process
    lines: asyncio.Queue[str]
    reader: asyncio.Task[None]


def _write(path: Path, spec: dict[str, Any]) -> None:
    path.write_text(json.dumps(spec))


async def _spawn(spec: dict[str, Any], path: Path) -> Worker:
    _write(path, spec)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.ws_clients",
        str(path),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=2**26,
    )
    lines: asyncio.Queue[str] = asyncio.Queue()

    async def read() -> None:
        assert proc.stdout is not None
        while raw := await proc.stdout.readline():
            await lines.put(raw.decode().rstrip("\n"))
        await lines.put("EOF")

    return Worker(proc, lines, asyncio.create_task(read()))


async def _await_line(workers: list[Worker], prefix: str, within: float) -> None:
    async def one(worker: Worker) -> None:
        while True:
            line = await worker.lines.get()
            if line.startswith(prefix):
                return
            if line == "EOF" or line.startswith("RESULT"):
                raise RuntimeError(f"receiver ended before {prefix!r}: {line[:300]}")

    await asyncio.wait_for(asyncio.gather(*(one(w) for w in workers)), within)


async def _results(workers: list[Worker], within: float) -> list[dict[str, Any]]:
    async def one(worker: Worker) -> dict[str, Any]:
        while True:
            line = await worker.lines.get()
            if line.startswith("RESULT "):
                result: dict[str, Any] = json.loads(line[7:])
                return result
            if line == "EOF":
                raise RuntimeError("receiver ended without a result")

    try:
        return list(await asyncio.wait_for(asyncio.gather(*(one(w) for w in workers)), within))
    finally:
        for worker in workers:
            if worker.proc.returncode is None:
                worker.proc.kill()
            await worker.proc.wait()
            worker.reader.cancel()


async def run_fanout(
    *,
    url: str,
    protocol: str,
    tokens: list[str],
    clients: int,
    processes: int,
    sender: Sender,
    server_pid: int,
    burst: int,
    paced: int,
    rate: float,
    workdir: Path,
    room: str = "general",
    label: str = "",
    selection: str | None = None,
    probe: Probe | None = None,
) -> FanoutResult:
    phases = [1, burst, paced]
    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    rss_before = rss_kib(server_pid)
    workers: list[Worker] = []
    offset = 0
    for index, count in enumerate(per):
        # Each process gets its own slice of tokens, so users spread evenly.
        mine = tokens[offset : offset + count] if len(tokens) >= clients else tokens
        offset += count
        spec = {
            "url": url,
            "protocol": protocol,
            "tokens": mine,
            "count": count,
            "room": room,
            "phases": phases,
            "within": 240,
        }
        if selection is not None:
            spec["selection"] = selection
        workers.append(await _spawn(spec, workdir / f"clients-{label}-{index}.json"))
    try:
        t0 = time.monotonic()
        await _await_line(workers, "READY", 120)
        log(f"  {clients} {protocol} receivers connected in {time.monotonic() - t0:.1f}s")
        await asyncio.sleep(1.0)
        rss_after = rss_kib(server_pid)
        await sender.open()
        try:
            await sender.send(content(0))
            await _await_line(workers, "PHASE 0", 30)
            if probe is not None:
                await probe.start()
            cpu_before = cpu_seconds(server_pid)
            burst_start = time.monotonic()
            for seq in range(1, 1 + burst):
                await sender.send(content(seq))
            await _await_line(workers, "PHASE 1", 120)
            burst_cpu = cpu_seconds(server_pid) - cpu_before
            await asyncio.sleep(0.5)
            start = time.monotonic()
            for i in range(paced):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await sender.send(content(1 + burst + i))
            await _await_line(workers, "PHASE 2", 60)
        finally:
            if probe is not None:
                await probe.stop()
            await sender.close()
        results = await _results(workers, 60)
    except BaseException:
        for worker in workers:
            if worker.proc.returncode is None:
                worker.proc.kill()
        raise
    burst_last = max(r["phases"][1]["last"] for r in results)
    burst_delivered = sum(r["phases"][1]["delivered"] for r in results)
    paced_lat = [x for r in results for x in r["phases"][2]["latencies"]]
    burst_lat = [x for r in results for x in r["phases"][1]["latencies"]]
    delivered = sum(p["delivered"] for r in results for p in r["phases"])
    errors = [e for r in results for e in r["errors"]]
    errors += getattr(sender, "errors", [])
    return FanoutResult(
        clients=clients,
        burst=burst,
        paced=paced,
        rate=rate,
        throughput=burst_delivered / (burst_last - burst_start),
        p50=percentile(paced_lat, 50),
        p99=percentile(paced_lat, 99),
        burst_p99=percentile(burst_lat, 99),
        rss_per_connection_kib=(rss_after - rss_before) / clients,
        cpu_us_per_delivery=burst_cpu / max(1, burst_delivered) * 1e6,
        delivered=delivered,
        expected=clients * sum(phases),
        duplicates=sum(p["duplicates"] for r in results for p in r["phases"]),
        errors=errors[:10],
    )


async def baseline_fanout(
    *, clients: int, processes: int, burst: int, paced: int, rate: float, workdir: Path
) -> FanoutResult:
    """The same fan-out against ``bench.baseline_ws``."""
    from bench.common import HOST, free_port, start_process, wait_tcp

    port = free_port()
    proc = start_process(
        f"baseline-ws-{clients}",
        [sys.executable, "-m", "bench.baseline_ws", "--port", str(port)],
        {},
        workdir,
    )
    try:
        await wait_tcp(proc, port)
        await _warm(f"ws://{HOST}:{port}/sub", None)
        return await run_fanout(
            url=f"ws://{HOST}:{port}/sub",
            protocol="raw",
            tokens=[],
            clients=clients,
            processes=processes,
            sender=RawSender(f"ws://{HOST}:{port}/pub"),
            server_pid=proc.pid,
            burst=burst,
            paced=paced,
            rate=rate,
            workdir=workdir,
            label=f"raw{clients}",
        )
    finally:
        proc.stop()


async def _warm(url: str, token: str | None, count: int = 5) -> None:
    """A few connections opened and closed first: one-time costs stay out of RSS."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    for _ in range(count):
        ws = await connect(url, additional_headers=headers, compression=None)
        await ws.close()


# --- report lines shared by the WS and GraphQL fan-out benches -------------------------


def cpu_line(mines: list[FanoutResult], bases: list[FanoutResult], name: str) -> Line:
    """Server CPU per delivery during the burst, against the bare broadcast
    (a report line: the target stays on end-to-end throughput). Comptoir's
    figure includes storing each message (the bare server stores nothing);
    on a loaded machine it moves far less than wall-clock throughput does."""
    return Line(
        name,
        "us/deliv",
        median(m.cpu_us_per_delivery for m in mines),
        median(b.cpu_us_per_delivery for b in bases),
        "bare websockets",
        paired_ratio=median(
            m.cpu_us_per_delivery / b.cpu_us_per_delivery
            for m, b in zip(mines, bases, strict=True)
            if b.cpu_us_per_delivery
        )
        if any(b.cpu_us_per_delivery for b in bases)
        else None,
        comptoir_runs=[m.cpu_us_per_delivery for m in mines],
        notes={"load_average": os.getloadavg()},
    )


def fanout_lines(
    mines: list[FanoutResult],
    bases: list[FanoutResult],
    *,
    throughput: str,
    min_ratio: float,
    p99: str,
    memory: str,
    max_memory_ratio: float,
    notes: dict[str, Any],
) -> tuple[Line, Line, Line]:
    """Delivery throughput (all delivered once), p99 (at most 40 ms) and
    memory per idle socket, against bare websockets: medians over rounds,
    memory from the first round only (a server that already held a thousand
    connections reuses that memory for the next thousand)."""
    complete = all(m.delivered == m.expected and m.duplicates == 0 for m in mines)
    p99_ms = median(m.p99 for m in mines)
    return (
        Line(
            throughput,
            "deliv/s",
            median(m.throughput for m in mines),
            median(b.throughput for b in bases),
            "bare websockets",
            "min",
            min_ratio,
            extra_check="all delivered once",
            extra_ok=complete,
            notes=notes,
            paired_ratio=median(
                m.throughput / b.throughput for m, b in zip(mines, bases, strict=True)
            ),
        ),
        Line(
            p99,
            "ms",
            p99_ms,
            median(b.p99 for b in bases),
            "bare websockets",
            extra_check="p99 <= 40 ms",
            extra_ok=p99_ms <= 40,
        ),
        Line(
            memory,
            "KiB",
            mines[0].rss_per_connection_kib,
            bases[0].rss_per_connection_kib,
            "bare websockets",
            "max",
            max_memory_ratio,
        ),
    )
