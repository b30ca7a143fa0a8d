"""HTTP throughput: REST and GraphQL against the bare route; two processes vs one.

Closed loop at low, fixed concurrency (wrk -t2 -c8 by default) for a fixed
time: throughput at moderate load, not at saturation.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from bench.common import (
    HOST,
    Proc,
    Server,
    Throughput,
    cpu_seconds,
    free_port,
    have_wrk,
    load,
    log,
    parse_wrk,
    python_load,
    start_comptoir,
    start_process,
    start_wrk,
    wait_http,
)
from bench.report import Line

ROWS = 50
REST_PATH = f"/products?limit={ROWS}"
GRAPHQL_QUERY = f"{{ products(first: {ROWS}) {{ edges {{ node {{ id name price stock }} }} }} }}"
GRAPHQL_BODY = json.dumps({"query": GRAPHQL_QUERY}).encode()
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class HttpConfig:
    seconds: float
    warmup: float
    threads: int = 2
    connections: int = 8
    rounds: int = 1


async def start_baseline(database_url: str, workdir: Path) -> tuple[Proc, str]:
    port = free_port()
    proc = start_process(
        "baseline-rest",
        [sys.executable, "-m", "bench.baseline_rest", "--db", database_url, "--port", str(port)],
        {},
        workdir,
    )
    url = f"http://{HOST}:{port}"
    try:
        await wait_http(proc, url + "/health")
    except BaseException:
        proc.stop()
        raise
    return proc, url


async def check_responses(comptoir: str, baseline: str) -> None:
    """Both sides must answer the same 50 rows before being timed."""
    from bench.common import HttpClient

    a, b = HttpClient.from_url(comptoir), HttpClient.from_url(baseline)
    try:
        status, mine = await a.json("GET", REST_PATH)
        status2, theirs = await b.json("GET", "/products")
        if status != 200 or status2 != 200 or len(mine) != ROWS or mine != theirs:
            raise RuntimeError(f"REST answers differ: {status} {status2} {len(mine)}")
        status, body = await a.json("POST", "/graphql", {"query": GRAPHQL_QUERY})
        edges = body["data"]["products"]["edges"]
        if status != 200 or len(edges) != ROWS:
            raise RuntimeError(f"GraphQL answer: {status} {body}")
    finally:
        await a.close()
        await b.close()


async def measure(
    url: str, config: HttpConfig, workdir: Path, graphql: bool = False, warm: bool = True
) -> Throughput:
    kwargs: dict[str, object] = {}
    if graphql:
        kwargs = {"method": "POST", "body": GRAPHQL_BODY, "headers": JSON_HEADERS}
    common = {"connections": config.connections, "threads": config.threads, "workdir": workdir}
    if warm:
        await load(url, seconds=config.warmup, **common, **kwargs)  # type: ignore[arg-type]
    result = await load(url, seconds=config.seconds, **common, **kwargs)  # type: ignore[arg-type]
    if result.errors:
        raise RuntimeError(f"{result.errors} failed requests against {url}")
    return result


async def rest_and_graphql(database_url: str, workdir: Path, config: HttpConfig) -> list[Line]:
    """Interleaved short rounds (bare, REST, GraphQL, bare, ...).

    The machine is shared: interleaving exposes every side to the same
    drift; figures are medians over rounds, ratios the median of each
    round's ratio.
    """
    server = await start_comptoir("comptoir-http", database_url, workdir)
    runs: dict[str, list[float]] = {"base": [], "rest": [], "gql": []}
    try:
        base_proc, base_url = await start_baseline(database_url, workdir)
        try:
            await check_responses(server.http_url, base_url)
            targets = {
                "base": (base_url + "/products", False),
                "rest": (server.http_url + REST_PATH, False),
                "gql": (server.http_url + "/graphql", True),
            }
            for url, graphql in targets.values():  # warm-up
                await measure(
                    url,
                    HttpConfig(config.warmup, 0, config.threads, config.connections),
                    workdir,
                    graphql,
                    warm=False,
                )
            for round_index in range(config.rounds):
                for name, (url, graphql) in targets.items():
                    result = await measure(url, config, workdir, graphql, warm=False)
                    runs[name].append(result.requests_per_second)
                log(
                    f"  round {round_index + 1}: bare {runs['base'][-1]:.0f}, "
                    f"REST {runs['rest'][-1]:.0f}, GraphQL {runs['gql'][-1]:.0f} req/s"
                )
        finally:
            base_proc.stop()
    finally:
        server.proc.stop()
    shape = {
        "tool": "wrk" if have_wrk() else "python",
        "threads": config.threads,
        "connections": config.connections,
        "seconds_per_round": config.seconds,
        "rounds": runs,
    }
    base = median(runs["base"])
    return [
        Line(
            "REST GET /products (50 rows)",
            "req/s",
            median(runs["rest"]),
            base,
            "bare Starlette+Tortoise",
            "min",
            0.8,
            notes=shape,
            paired_ratio=paired(runs["rest"], runs["base"]),
        ),
        Line(
            "GraphQL products(first: 50)",
            "req/s",
            median(runs["gql"]),
            base,
            "bare Starlette+Tortoise",
            "min",
            0.5,
            notes=shape,
            paired_ratio=paired(runs["gql"], runs["base"]),
        ),
    ]


def paired(mine: list[float], theirs: list[float]) -> float:
    """The median of round-by-round ratios."""
    return median([a / b for a, b in zip(mine, theirs, strict=True) if b])


async def _concurrent_load(urls: list[str], config: HttpConfig) -> float:
    """One load generator per server, all at once; the sum of their rates."""
    per = max(1, config.connections // len(urls))
    threads = max(1, config.threads // len(urls))
    if not have_wrk():
        results = await asyncio.gather(
            *(
                python_load(u, seconds=config.seconds, connections=per, processes=threads)
                for u in urls
            )
        )
        return sum(r.requests_per_second for r in results)
    procs = [start_wrk(u, seconds=config.seconds, threads=threads, connections=per) for u in urls]
    outs = await asyncio.gather(
        *(asyncio.to_thread(p.communicate, None, config.seconds + 30) for p in procs)
    )
    results = [parse_wrk(out) for out, _ in outs]
    if any(r.errors for r in results):
        raise RuntimeError("failed requests in the two-process run")
    return sum(r.requests_per_second for r in results)


async def two_processes(
    database_url: str, workdir: Path, config: HttpConfig, redis_url: str
) -> Line:
    extra = {"BROADCAST_URL": redis_url}
    servers: list[Server] = []
    try:
        for index in range(2):
            servers.append(
                await start_comptoir(f"comptoir-redis-{index}", database_url, workdir, extra)
            )
        urls = [s.http_url + REST_PATH for s in servers]
        log("two processes: warm-up")
        warm = HttpConfig(config.warmup, 0, config.threads, config.connections)
        await _concurrent_load(urls, warm)
        ones: list[float] = []
        twos: list[float] = []
        cores: list[float] = []
        for round_index in range(config.rounds):
            cpu0, wall0 = cpu_seconds(servers[0].proc.pid), time.monotonic()
            ones.append(await _concurrent_load(urls[:1], config))
            cores.append((cpu_seconds(servers[0].proc.pid) - cpu0) / (time.monotonic() - wall0))
            twos.append(await _concurrent_load(urls, config))
            log(f"  round {round_index + 1}: one {ones[-1]:.0f}, two {twos[-1]:.0f} req/s")
        one, two = median(ones), median(twos)
    finally:
        for server in servers:
            server.proc.stop()
    return Line(
        "REST req/s, 2 processes + Redis vs 1",
        "req/s",
        two,
        one,
        "1 process + Redis",
        "min",
        1.4,
        notes={
            "connections_total": config.connections,
            "seconds_per_round": config.seconds,
            "one": ones,
            "two": twos,
            # What one process alone burns: with SQLite, its loop plus the
            # aiosqlite thread; two of them cannot both get that on 2 cores.
            "cores_used_by_one_process": round(median(cores), 2),
        },
        paired_ratio=paired(twos, ones),
    )
