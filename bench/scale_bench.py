"""Two processes vs one, pinned to cores, CPU-normalised.

What 2 cores can and cannot show. The load generator, SQLite's thread and
Redis need CPU too, so two server processes on a 2-core machine can never
show twice the throughput of one: whatever the servers gain, the load
generator loses. Raw req/s of 2 vs 1 measures the machine, not scale-out
(the outside run saw 0.82×, 2.42× and 2.28× for the same code).

What they can show is whether a process stays as efficient when a second
one shares the database and the Redis pub/sub: each server is pinned to a
core of its own (``taskset``), the CPU each one burns is read from /proc,
and the figure is **requests per server CPU-second**, two processes vs one.
1.0× means the second process adds work at the same cost per request, which
is what lets throughput grow with cores on a larger machine; less than 1.0×
is the coordination overhead. Raw req/s is reported beside it, without a
target.

The second figure is the chat WebSocket fan-out across two processes:
the sender on process A, every receiver on process B, so each message
crosses Redis, vs the same clients all on A (also with Redis).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from statistics import median

from bench.common import (
    Server,
    cpu_seconds,
    have_wrk,
    log,
    parse_wrk,
    python_load,
    start_comptoir,
    start_wrk,
)
from bench.http_bench import REST_PATH, HttpConfig, ratios
from bench.report import Line

# Process A on core 0, process B on core 1; the one-process run puts the
# load generator on core 1.
CORE_A, CORE_B = "0", "1"


async def _load(urls_and_cores: list[tuple[str, str]], config: HttpConfig) -> float:
    """One load generator per (url, core), all at once; the sum of their rates."""
    per = max(1, config.connections // len(urls_and_cores))
    if not have_wrk():
        results = await asyncio.gather(
            *(
                python_load(u, seconds=config.seconds, connections=per, processes=1, cpus=c)
                for u, c in urls_and_cores
            )
        )
        if any(r.errors for r in results):
            raise RuntimeError("failed requests in the two-process run")
        return sum(r.requests_per_second for r in results)
    procs = [
        start_wrk(u, seconds=config.seconds, threads=1, connections=per, cpus=c)
        for u, c in urls_and_cores
    ]
    outs = await asyncio.gather(
        *(asyncio.to_thread(p.communicate, None, config.seconds + 30) for p in procs)
    )
    results = [parse_wrk(out) for out, _ in outs]
    if any(r.errors for r in results):
        raise RuntimeError("failed requests in the two-process run")
    return sum(r.requests_per_second for r in results)


async def _timed(
    servers: list[Server], urls_and_cores: list[tuple[str, str]], config: HttpConfig
) -> tuple[float, float]:
    """(req/s, server cores used) over one load run."""
    cpu0 = sum(cpu_seconds(s.proc.pid) for s in servers)
    wall0 = time.monotonic()
    rate = await _load(urls_and_cores, config)
    cores = (sum(cpu_seconds(s.proc.pid) for s in servers) - cpu0) / (time.monotonic() - wall0)
    return rate, cores


async def two_processes(
    database_url: str, workdir: Path, config: HttpConfig, redis_url: str
) -> list[Line]:
    extra = {"BROADCAST_URL": redis_url}
    servers: list[Server] = []
    try:
        for index, core in enumerate((CORE_A, CORE_B)):
            servers.append(
                await start_comptoir(
                    f"comptoir-redis-{index}", database_url, workdir, extra, cpus=core
                )
            )
        a, b = (s.http_url + REST_PATH for s in servers)
        one_plan = [(a, CORE_B)]
        # Each load generator shares the other server's core.
        two_plan = [(a, CORE_B), (b, CORE_A)]
        log("two processes: warm-up")
        warm = HttpConfig(config.warmup, 0, config.threads, config.connections)
        await _load(two_plan, warm)
        ones: list[float] = []
        twos: list[float] = []
        one_eff: list[float] = []
        two_eff: list[float] = []
        for index in range(config.rounds):
            plans = [("one", one_plan), ("two", two_plan)]
            if index % 2:
                plans.reverse()
            for kind, plan in plans:
                used = servers[:1] if kind == "one" else servers
                rate, cores = await _timed(used, plan, config)
                (ones if kind == "one" else twos).append(rate)
                (one_eff if kind == "one" else two_eff).append(rate / cores if cores else 0.0)
            log(
                f"  round {index + 1}: one {ones[-1]:.0f} req/s ({one_eff[-1]:.0f}/CPU-s), "
                f"two {twos[-1]:.0f} req/s ({two_eff[-1]:.0f}/CPU-s)"
            )
    finally:
        for server in servers:
            server.proc.stop()
    notes = {
        "pinning": "A on core 0, B on core 1; load generators on the other core",
        "one_req_s": ones,
        "two_req_s": twos,
        "one_req_per_cpu_s": one_eff,
        "two_req_per_cpu_s": two_eff,
        "seconds_per_round": config.seconds,
    }
    return [
        Line(
            "REST per server CPU-s, 2 processes + Redis vs 1",
            "req/CPU-s",
            median(two_eff),
            median(one_eff),
            "1 process + Redis",
            "min",
            0.8,
            notes=notes,
            paired_ratio=median(ratios(two_eff, one_eff)),
            comptoir_runs=two_eff,
            ratio_runs=ratios(two_eff, one_eff),
        ),
        Line(
            "REST req/s, 2 processes vs 1 (2 cores: not scale-out)",
            "req/s",
            median(twos),
            median(ones),
            "1 process + Redis",
            notes=notes,
            paired_ratio=median(ratios(twos, ones)),
            comptoir_runs=twos,
            ratio_runs=ratios(twos, ones),
        ),
    ]


async def ws_two_processes(
    database_url: str,
    workdir: Path,
    redis_url: str,
    emails: list[str],
    *,
    clients: int,
    rounds: int,
    burst: int = 50,
    paced: int = 30,
    rate: float = 10.0,
) -> Line:
    from bench.fanout import ChatWsSender, run_fanout
    from bench.ws_bench import WS_BENCH_ENV, login_all

    extra = {**WS_BENCH_ENV, "BROADCAST_URL": redis_url}
    servers: list[Server] = []
    try:
        for index, core in enumerate((CORE_A, CORE_B)):
            servers.append(
                await start_comptoir(
                    f"comptoir-wsr-{index}", database_url, workdir, extra, cpus=core
                )
            )
        a, b = servers
        tokens = await login_all(a.http_url, emails)
        sender, receivers = tokens[0], tokens[1:]
        across: list[float] = []
        local: list[float] = []
        for index in range(rounds):
            order = [("local", a), ("across", b)]
            if index % 2:
                order.reverse()
            for kind, target in order:
                result = await run_fanout(
                    url=target.ws_url,
                    protocol="comptoir",
                    tokens=receivers,
                    clients=clients,
                    processes=1,
                    sender=ChatWsSender(a.ws_url, sender, "general"),
                    server_pid=target.proc.pid,
                    burst=burst,
                    paced=paced,
                    rate=rate,
                    workdir=workdir,
                    label=f"wsr-{kind}-{index}",
                )
                if result.delivered != result.expected or result.duplicates:
                    raise RuntimeError(f"fan-out {kind}: {result.summary()}")
                (across if kind == "across" else local).append(result.throughput)
            log(f"  round {index + 1}: on A {local[-1]:.0f}, A -> B {across[-1]:.0f} deliv/s")
    finally:
        for server in servers:
            server.proc.stop()
    return Line(
        f"WS fan-out, {clients} clients on process B, sent on A",
        "deliv/s",
        median(across),
        median(local),
        "all on A",
        extra_check="all delivered once",
        extra_ok=True,
        notes={"across": across, "local": local, "burst": burst},
        paired_ratio=median(ratios(across, local)),
        comptoir_runs=across,
        ratio_runs=ratios(across, local),
    )
