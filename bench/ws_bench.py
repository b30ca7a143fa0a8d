"""WebSocket lines: fan-out to 1,000 chat clients, idle memory per connection,
each beside the bare ``websockets`` server (GraphQL subscriptions:
``bench.gql_bench``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from bench.common import PASSWORD, HttpClient, Server, log, start_comptoir
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

# Limits that would otherwise throttle a benchmark's single sender and its
# thousand connections from a hundred users.
WS_BENCH_ENV = {
    "WS_MAX_CONNECTIONS_PER_USER": "1000",
    "MESSAGES_PER_WINDOW": "1000000",
    "WS_FRAME_RATE": "1000000",
    "GRAPHQL_WS_MAX_CONNECTIONS_PER_USER": "1000",
}


@dataclass
class WsConfig:
    clients: int = 1000
    processes: int = 2
    burst: int = 100
    paced: int = 100
    rate: float = 10.0
    gql_clients: int = 1000
    rounds: int = 3


async def login_all(http_url: str, emails: list[str]) -> list[str]:
    """Access tokens through ``POST /login`` (the bulk users' hashes are cheap)."""
    client = HttpClient.from_url(http_url)
    tokens = []
    try:
        for email in emails:
            status, body = await client.json(
                "POST", "/login", {"email": email, "password": PASSWORD}
            )
            if status != 200:
                raise RuntimeError(f"login {email}: {status} {body}")
            tokens.append(body["access_token"])
    finally:
        await client.close()
    return tokens


async def chat_ws_ready(server: Server, token: str) -> str | None:
    """None if the chat WebSocket server joins rooms; else why not."""
    try:
        conn = await asyncio.wait_for(
            open_receiver(server.ws_url, "comptoir", token, "general"), 10
        )
    except Exception as error:
        return f"the chat WebSocket server does not join rooms yet ({error!r})"[:200]
    await conn.close()
    return None


async def chat_fanout(
    server: Server,
    config: WsConfig,
    sender_token: str,
    receiver_tokens: list[str],
    workdir: Path,
    *,
    label: str,
    probe: Probe | None = None,
) -> FanoutResult:
    """One fan-out round on the chat WebSocket door, shaped by ``config``:
    ``config.clients`` receivers in "general" (over ``config.processes``
    processes), one sender, a burst then a paced phase; ``probe`` runs
    beside it (``bench.presence_bench``)."""
    return await run_fanout(
        url=server.ws_url,
        protocol="comptoir",
        tokens=receiver_tokens,
        clients=config.clients,
        processes=config.processes,
        sender=ChatWsSender(server.ws_url, sender_token, "general"),
        server_pid=server.proc.pid,
        burst=config.burst,
        paced=config.paced,
        rate=config.rate,
        workdir=workdir,
        label=label,
        probe=probe,
    )


def _fanout_lines(mines: list[FanoutResult], bases: list[FanoutResult]) -> list[Line]:
    """Rounds alternate bare and Comptoir; figures are medians over rounds.

    Memory comes from the first round only: a server that already held a
    thousand connections reuses that memory for the next thousand.
    """
    notes = {
        "comptoir": [m.summary() for m in mines],
        "baseline": [b.summary() for b in bases],
    }
    first, rate = mines[0], mines[0].rate
    throughput, p99, memory = fanout_lines(
        mines,
        bases,
        throughput=f"WS fan-out {first.clients} clients, {first.burst} msgs burst",
        min_ratio=0.85,
        p99=f"WS fan-out p99 at {rate:g} msg/s",
        memory="memory per idle WS connection",
        max_memory_ratio=1.5,
        notes=notes,
    )
    p50 = Line(
        f"WS fan-out p50 at {rate:g} msg/s",
        "ms",
        median(m.p50 for m in mines),
        median(b.p50 for b in bases),
        "bare websockets",
    )
    cpu = cpu_line(mines, bases, f"WS fan-out server CPU per delivery, {first.burst} msgs burst")
    return [throughput, cpu, p50, p99, memory]


async def ws_lines(
    database_url: str, workdir: Path, config: WsConfig, emails: list[str]
) -> list[Line]:
    lines: list[Line] = []
    server = await start_comptoir("comptoir-ws", database_url, workdir, WS_BENCH_ENV)
    try:
        tokens = await login_all(server.http_url, emails)
        sender_token, receiver_tokens = tokens[0], tokens[1:]
        why = await chat_ws_ready(server, receiver_tokens[0])
        if why is None:
            for _ in range(5):  # one-time costs stay out of the memory figure
                warm = await open_receiver(server.ws_url, "comptoir", receiver_tokens[0], "general")
                await warm.close()
            bases: list[FanoutResult] = []
            mines: list[FanoutResult] = []
            for round_index in range(config.rounds):
                log(
                    f"WS fan-out round {round_index + 1}: bare websockets, {config.clients} clients"
                )
                bases.append(
                    await baseline_fanout(
                        clients=config.clients,
                        processes=config.processes,
                        burst=config.burst,
                        paced=config.paced,
                        rate=config.rate,
                        workdir=workdir,
                    )
                )
                log(f"  {bases[-1].throughput:,.0f} deliv/s, p99 {bases[-1].p99:.1f} ms")
                log(f"WS fan-out round {round_index + 1}: Comptoir, {config.clients} clients")
                mines.append(
                    await chat_fanout(
                        server,
                        config,
                        sender_token,
                        receiver_tokens,
                        workdir,
                        label=f"comptoir{round_index}",
                    )
                )
                log(f"  {mines[-1].throughput:,.0f} deliv/s, p99 {mines[-1].p99:.1f} ms")
            lines += _fanout_lines(mines, bases)
        else:
            log(f"  skipped: {why}")

    finally:
        server.proc.stop()
    return lines
