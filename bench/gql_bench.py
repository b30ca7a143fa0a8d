"""GraphQL subscription lines: fan-out to 1,000 subscribers beside the bare
``websockets`` server, paced p99, idle memory per subscription socket, and
whether the rest of the process stays responsive during the fan-out.

Each round runs the bare server, then Comptoir, with the same receivers
(separate processes) and the same phases as the chat WebSocket lines. The
subscribers select ``id content createdAt author { id displayName }``: the
author is a related row, loaded once per event for the whole group. During
Comptoir's burst and paced phases a probe in the bench process times
``GET /health`` and a chat WebSocket round trip (an unknown frame type,
answered at once with an error frame) every 20 ms.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from bench.common import HttpClient, Server, log, percentile
from bench.fanout import (
    ChatWsSender,
    FanoutResult,
    Probe,
    baseline_fanout,
    cpu_line,
    fanout_lines,
    run_fanout,
)
from bench.report import Line
from bench.ws_clients import open_receiver

SELECTION = "id content createdAt author { id displayName }"
PROBE_INTERVAL = 0.02
RESPONSIVE_MS = 100.0


class LoopProbe(Probe):
    """``GET /health`` and a chat WebSocket round trip, timed, until stopped."""

    def __init__(self, http_url: str, ws_url: str, token: str) -> None:
        self.http_url, self.ws_url, self.token = http_url, ws_url, token
        self.health: list[float] = []
        self.chat: list[float] = []
        self.errors: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._http: HttpClient | None = None
        self._ws: ClientConnection | None = None

    async def start(self) -> None:
        self._http = HttpClient.from_url(self.http_url)
        self._ws = await connect(
            self.ws_url, additional_headers={"Authorization": f"Bearer {self.token}"}
        )
        json.loads(await self._ws.recv())  # ready
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._http is not None
        assert self._ws is not None
        ref = 0
        while True:
            start = time.monotonic()
            status, _ = await self._http.request("GET", "/health")
            if status != 200:
                self.errors.append(f"/health answered {status}")
            self.health.append((time.monotonic() - start) * 1000)
            ref += 1
            start = time.monotonic()
            await self._ws.send(json.dumps({"type": "probe", "ref": ref}))
            while json.loads(await self._ws.recv()).get("ref") != ref:
                pass
            self.chat.append((time.monotonic() - start) * 1000)
            await asyncio.sleep(PROBE_INTERVAL)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()


async def graphql_lines(
    server: Server,
    tokens: list[str],
    *,
    clients: int,
    processes: int,
    burst: int,
    paced: int,
    rate: float,
    rounds: int,
    workdir: Path,
) -> list[Line]:
    sender_token, receiver_tokens = tokens[0], tokens[1:]
    gql_url = server.http_url.replace("http://", "ws://") + "/graphql"
    bases: list[FanoutResult] = []
    mines: list[FanoutResult] = []
    probes: list[LoopProbe] = []
    for _ in range(5):  # one-time costs stay out of the memory figure, as for chat
        warm = await open_receiver(gql_url, "graphql", receiver_tokens[0], "general", SELECTION)
        warm.abort()
    for index in range(rounds):
        log(f"GraphQL fan-out round {index + 1}: bare websockets, {clients} clients")
        bases.append(
            await baseline_fanout(
                clients=clients,
                processes=processes,
                burst=burst,
                paced=paced,
                rate=rate,
                workdir=workdir,
            )
        )
        log(f"  {bases[-1].throughput:,.0f} deliv/s, p99 {bases[-1].p99:.1f} ms")
        log(f"GraphQL fan-out round {index + 1}: Comptoir, {clients} subscribers")
        probe = LoopProbe(server.http_url, server.ws_url, sender_token)
        probes.append(probe)
        mines.append(
            await run_fanout(
                url=gql_url,
                protocol="graphql",
                tokens=receiver_tokens,
                clients=clients,
                processes=processes,
                sender=ChatWsSender(server.ws_url, sender_token, "general"),
                server_pid=server.proc.pid,
                burst=burst,
                paced=paced,
                rate=rate,
                workdir=workdir,
                label=f"graphql{index}",
                selection=SELECTION,
                probe=probe,
            )
        )
        log(
            f"  {mines[-1].throughput:,.0f} deliv/s, p99 {mines[-1].p99:.1f} ms, "
            f"/health p99 {percentile(probe.health, 99):.1f} ms, "
            f"chat WS p99 {percentile(probe.chat, 99):.1f} ms"
        )
    notes = {
        "selection": SELECTION,
        "comptoir": [m.summary() for m in mines],
        "baseline": [b.summary() for b in bases],
        "probe_errors": [e for p in probes for e in p.errors][:10],
    }
    health = [x for p in probes for x in p.health]
    chat = [x for p in probes for x in p.chat]
    health_p99, chat_p99 = percentile(health, 99), percentile(chat, 99)
    return [
        *fanout_lines(
            mines,
            bases,
            throughput=f"GraphQL subscription fan-out, {clients} subscribers, {burst} msgs burst",
            min_ratio=0.5,
            p99=f"GraphQL subscription p99 at {rate:g} msg/s, {clients} subscribers",
            memory="memory per idle GraphQL subscription socket",
            max_memory_ratio=2.0,
            notes=notes,
        ),
        cpu_line(mines, bases, f"GraphQL fan-out server CPU per delivery, {burst} msgs burst"),
        Line(
            f"GET /health p99 during the GraphQL fan-out ({len(health)} probes)",
            "ms",
            health_p99,
            float("nan"),
            "none",
            extra_check=f"p99 < {RESPONSIVE_MS:g} ms",
            extra_ok=health_p99 < RESPONSIVE_MS and not notes["probe_errors"],
        ),
        Line(
            f"chat WS round trip p99 during the GraphQL fan-out ({len(chat)} probes)",
            "ms",
            chat_p99,
            float("nan"),
            "none",
            extra_check=f"p99 < {RESPONSIVE_MS:g} ms",
            extra_ok=chat_p99 < RESPONSIVE_MS,
        ),
    ]
