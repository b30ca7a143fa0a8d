"""Presence churn beside the chat fan-out: does it raise the paced p99?

One Comptoir server, N chat WS receivers in "general" (as in ``bench.ws_bench``).
Rounds alternate: the plain fan-out, then the same fan-out while
``churn`` other users, all members of "general", each open one chat
WebSocket and close it once (spread over the burst and paced phases), so
that every one of them comes online and goes offline once
(``PRESENCE_GRACE_SECONDS=1`` so both changes fall inside the window). Each
change is published on "general"'s channel, which every receiver's
connection listens to; the receivers did not ask for presence
(``presence`` frame), so the changes reach the room's feed and are
filtered per connection. Both paced p99 figures are printed, and the line
passes when the one with churn stays <= 40 ms.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from statistics import median

from websockets.asyncio.client import ClientConnection, connect

from bench.common import HttpClient, log, start_comptoir
from bench.fanout import FanoutResult, Probe
from bench.report import Line
from bench.ws_bench import WS_BENCH_ENV, WsConfig, chat_fanout, login_all

PRESENCE_ENV = {**WS_BENCH_ENV, "PRESENCE_GRACE_SECONDS": "1", "WS_MAX_CONNECTIONS": "100000"}
JOIN = 'mutation { joinRoom(room: "general") { id } }'


class Churn(Probe):
    """Each token's user opens a chat WebSocket once and closes it ``hold``
    seconds later; the opens are spread evenly over ``spread`` seconds."""

    def __init__(self, ws_url: str, tokens: list[str], spread: float, hold: float) -> None:
        self.ws_url, self.tokens, self.spread, self.hold = ws_url, tokens, spread, hold
        self.opened = 0
        self.closed = 0
        self.errors: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _one(self, token: str, at: float) -> None:
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        ws: ClientConnection | None = None
        try:
            ws = await connect(
                self.ws_url,
                additional_headers={"Authorization": f"Bearer {token}"},
                compression=None,
                open_timeout=30,
            )
            json.loads(await ws.recv())  # ready
            self.opened += 1
            await asyncio.sleep(self.hold)
        except Exception as error:
            self.errors.append(repr(error)[:200])
        finally:
            if ws is not None:
                await ws.close()
                self.closed += 1

    async def _run(self) -> None:
        start = time.monotonic()
        step = self.spread / max(1, len(self.tokens))
        await asyncio.gather(
            *(self._one(token, start + i * step) for i, token in enumerate(self.tokens))
        )

    async def stop(self) -> None:
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 120)
            except TimeoutError:
                self.errors.append("churn did not finish")


async def _seed(database_url: str, users: int) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.seed",
        database_url,
        "--users",
        str(users),
        "--login-users",
        "0",
        stdout=asyncio.subprocess.DEVNULL,
    )
    if await asyncio.wait_for(proc.wait(), 300):
        raise RuntimeError("seeding the presence bench failed")


async def _join_general(http_url: str, tokens: list[str]) -> None:
    """Make the churn users members of "general" without connecting them."""
    client = HttpClient.from_url(http_url)
    try:
        for token in tokens:
            status, body = await client.json("POST", "/graphql", {"query": JOIN}, token=token)
            if status != 200 or body.get("errors"):
                raise RuntimeError(f"joinRoom: {status} {body}")
    finally:
        await client.close()


async def presence_lines(workdir: Path, config: WsConfig, churn: int) -> list[Line]:
    database_url = f"sqlite://{workdir / 'presence.sqlite3'}"
    receivers = 100  # users behind the receivers' connections (as in bench.ws_bench)
    await _seed(database_url, 1 + receivers + churn)
    server = await start_comptoir("comptoir-presence", database_url, workdir, PRESENCE_ENV)
    try:
        emails = [f"user{i}@bench.test" for i in range(1 + receivers + churn)]
        tokens = await login_all(server.http_url, emails)
        sender, receiver_tokens, churn_tokens = (
            tokens[0],
            tokens[1 : 1 + receivers],
            tokens[1 + receivers :],
        )
        await _join_general(server.http_url, churn_tokens)
        window = config.paced / config.rate  # seconds of the paced phase
        plain: list[FanoutResult] = []
        churned: list[FanoutResult] = []
        churns: list[Churn] = []
        for index in range(config.rounds):
            for label in ("plain", "churn"):
                probe = None
                if label == "churn":
                    probe = Churn(server.ws_url, churn_tokens, spread=window * 0.6, hold=1.0)
                    churns.append(probe)
                log(f"presence round {index + 1}: {label}, {config.clients} receivers")
                result = await chat_fanout(
                    server,
                    config,
                    sender,
                    receiver_tokens,
                    workdir,
                    label=f"presence-{label}{index}",
                    probe=probe,
                )
                (churned if probe else plain).append(result)
                log(f"  p99 {result.p99:.1f} ms, delivered {result.delivered}/{result.expected}")
                await asyncio.sleep(2.5)  # the last offline changes settle between rounds
    finally:
        server.proc.stop()
    p99_with = median(r.p99 for r in churned)
    p99_without = median(r.p99 for r in plain)
    complete = all(r.delivered == r.expected and r.duplicates == 0 for r in plain + churned)
    churn_ok = all(c.opened == churn and c.closed == churn and not c.errors for c in churns)
    return [
        Line(
            f"WS fan-out p99 at {config.rate:g} msg/s, {churn} users joining+leaving",
            "ms",
            p99_with,
            p99_without,
            "same fan-out, no churn",
            extra_check="p99 <= 40 ms, all delivered, every churn user in and out",
            extra_ok=p99_with <= 40 and complete and churn_ok,
            notes={
                "p99_with_churn": [r.p99 for r in churned],
                "p99_without_churn": [r.p99 for r in plain],
                "p50_with_churn": [r.p50 for r in churned],
                "p50_without_churn": [r.p50 for r in plain],
                "churn": [
                    {"opened": c.opened, "closed": c.closed, "errors": c.errors[:5]} for c in churns
                ],
            },
            comptoir_runs=[r.p99 for r in churned],
        )
    ]
