"""WebSocket lines: fan-out to 1,000 chat clients, idle memory per connection,
GraphQL subscription fan-out; each beside the bare ``websockets`` server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from bench.common import PASSWORD, HttpClient, Server, log, start_comptoir
from bench.fanout import (
    ChatWsSender,
    FanoutResult,
    RestSender,
    _warm,
    baseline_fanout,
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
}


@dataclass
class WsConfig:
    clients: int = 1000
    processes: int = 2
    burst: int = 100
    paced: int = 100
    rate: float = 10.0
    gql_clients: int = 200


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


def _fanout_lines(mine: FanoutResult, base: FanoutResult) -> list[Line]:
    notes = {"comptoir": mine.summary(), "baseline": base.summary()}
    complete = mine.delivered == mine.expected and mine.duplicates == 0
    return [
        Line(
            f"WS fan-out {mine.clients} clients, {mine.burst} msgs burst",
            "deliv/s",
            mine.throughput,
            base.throughput,
            "bare websockets",
            "min",
            0.8,
            extra_check="all delivered once",
            extra_ok=complete,
            notes=notes,
        ),
        Line(
            f"WS fan-out p50 at {mine.rate:g} msg/s",
            "ms",
            mine.p50,
            base.p50,
            "bare websockets",
        ),
        Line(
            f"WS fan-out p99 at {mine.rate:g} msg/s",
            "ms",
            mine.p99,
            base.p99,
            "bare websockets",
            extra_check="p99 <= 40 ms",
            extra_ok=mine.p99 <= 40,
        ),
        Line(
            "memory per idle WS connection",
            "KiB",
            mine.rss_per_connection_kib,
            base.rss_per_connection_kib,
            "bare websockets",
            "max",
            1.5,
        ),
    ]


async def ws_lines(
    database_url: str, workdir: Path, config: WsConfig, emails: list[str]
) -> list[Line]:
    lines: list[Line] = []
    server = await start_comptoir("comptoir-ws", database_url, workdir, WS_BENCH_ENV)
    try:
        tokens = await login_all(server.http_url, emails)
        sender_token, receiver_tokens = tokens[0], tokens[1:]
        log(f"WS fan-out: bare websockets, {config.clients} clients")
        base = await baseline_fanout(
            clients=config.clients,
            processes=config.processes,
            burst=config.burst,
            paced=config.paced,
            rate=config.rate,
            workdir=workdir,
        )
        log(f"  {base.throughput:,.0f} deliv/s, p99 {base.p99:.1f} ms")
        why = await chat_ws_ready(server, receiver_tokens[0])
        if why is None:
            log(f"WS fan-out: Comptoir, {config.clients} clients")
            await _warm(server.ws_url, receiver_tokens[0])
            mine = await run_fanout(
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
                label="comptoir",
            )
            log(f"  {mine.throughput:,.0f} deliv/s, p99 {mine.p99:.1f} ms")
            lines += _fanout_lines(mine, base)
        else:
            log(f"  skipped: {why}")

        log(f"GraphQL subscriptions: bare websockets, {config.gql_clients} clients")
        base_small = await baseline_fanout(
            clients=config.gql_clients,
            processes=1,
            burst=config.burst,
            paced=config.paced,
            rate=config.rate,
            workdir=workdir,
        )
        log(f"GraphQL subscriptions: Comptoir, {config.gql_clients} subscribers")
        gql_url = server.http_url.replace("http://", "ws://") + "/graphql"
        gql = await run_fanout(
            url=gql_url,
            protocol="graphql",
            tokens=receiver_tokens,
            clients=config.gql_clients,
            processes=1,
            sender=RestSender(server.http_url, sender_token, "general"),
            server_pid=server.proc.pid,
            burst=config.burst,
            paced=config.paced,
            rate=config.rate,
            workdir=workdir,
            label="graphql",
        )
        log(f"  {gql.throughput:,.0f} deliv/s, p99 {gql.p99:.1f} ms")
        notes = {"comptoir": gql.summary(), "baseline": base_small.summary()}
        complete = gql.delivered == gql.expected and gql.duplicates == 0
        lines += [
            Line(
                f"GraphQL subscription fan-out, {gql.clients} subscribers",
                "deliv/s",
                gql.throughput,
                base_small.throughput,
                "bare websockets",
                extra_check="all delivered once",
                extra_ok=complete,
                notes=notes,
            ),
            Line(
                f"GraphQL subscription p99 at {gql.rate:g} msg/s",
                "ms",
                gql.p99,
                base_small.p99,
                "bare websockets",
            ),
        ]
    finally:
        server.proc.stop()
    return lines
