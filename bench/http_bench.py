"""HTTP throughput: every door against fair baselines, in alternating rounds.

Closed loop at low, fixed concurrency (wrk -t2 -c8, else the Python load
generator) for a fixed time: throughput at moderate load, not saturation.
Each round measures every target once, in a rotated order, so that every
side sees the same drift of a shared machine; a line's ratio is the median
of its per-round ratios, printed with their min–max.

Baselines (``bench.baseline_rest``, one process, same database):
``tortoise`` (a bare Tortoise route, same C timestamp parsing), ``raw`` (the
driver itself: the practical limit) and ``strawberry`` (plain Strawberry with
parser and validation caches).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from urllib.parse import quote

from bench.common import (
    HOST,
    HttpClient,
    Proc,
    Throughput,
    free_port,
    have_wrk,
    load,
    log,
    start_comptoir,
    start_process,
    wait_http,
)
from bench.report import Line

ROWS = 50
REST_PATH = f"/products?limit={ROWS}"
CHAT_PATH = f"/chat/rooms/general/messages?limit={ROWS}"
# The same fields as REST returns.
PRODUCTS_QUERY = (
    f"{{ products(first: {ROWS}) {{ edges {{ node "
    "{ id name description price stock createdAt updatedAt } } } }"
)
CHAT_QUERY = (
    f'{{ roomMessages(room: "general", last: {ROWS}) {{ edges {{ node '
    "{ id content clientId createdAt author { id displayName } } } } }"
)
JSON_HEADERS = {"Content-Type": "application/json"}
HTTP_ENV = {"ACCESS_TOKEN_TTL": "7200"}
# A second server of the same code and data with the response cache on: the
# lines above are measured without it (RESPONSE_CACHE's default).
CACHED_ENV = {**HTTP_ENV, "RESPONSE_CACHE": "1"}


@dataclass
class HttpConfig:
    seconds: float
    warmup: float
    threads: int = 2
    connections: int = 8
    rounds: int = 3


@dataclass
class Target:
    url: str
    method: str = "GET"
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def graphql_post(url: str, query: str, token: str | None = None) -> Target:
    headers = dict(JSON_HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return Target(url + "/graphql", "POST", json.dumps({"query": query}).encode(), headers)


async def register_apq(url: str, query: str) -> Target:
    """A persisted query by hash alone, over GET, registered first (Apollo's APQ)."""
    digest = hashlib.sha256(query.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    register = Target(
        url + "/graphql",
        "POST",
        json.dumps({"query": query, "extensions": extensions}).encode(),
        JSON_HEADERS,
    )
    status, body = await _get(url, register)
    if status != 200 or not isinstance(body, dict) or body.get("errors"):
        raise RuntimeError(f"APQ registration: {status} {body}")
    return Target(f"{url}/graphql?extensions={quote(json.dumps(extensions))}")


async def with_etag(target: Target) -> Target:
    """The same GET, revalidated: ``If-None-Match`` with the current ETag (304s)."""
    client = HttpClient.from_url(target.url)
    try:
        path = "/" + target.url.split("/", 3)[3]
        await client.request("GET", path)
        etag = client.last_headers.get("etag")
    finally:
        await client.close()
    if not etag:
        raise RuntimeError(f"no ETag from {target.url}")
    return Target(target.url, headers={**target.headers, "If-None-Match": etag})


async def start_baseline(database_url: str, workdir: Path) -> tuple[Proc, str]:
    port = free_port()
    proc = start_process(
        "baseline-http",
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


async def _get(url: str, target: Target) -> tuple[int, object]:
    client = HttpClient.from_url(url)
    try:
        path = "/" + target.url.split("/", 3)[3]
        status, raw = await client.request(target.method, path, target.body, target.headers)
        return status, json.loads(raw)
    finally:
        await client.close()


async def check_answers(targets: dict[str, Target], pairs: list[tuple[str, str]]) -> None:
    """Every target answers 200, and each pair answers the same JSON."""
    answers = {}
    for name, target in targets.items():
        if "If-None-Match" in target.headers:
            continue
        status, body = await _get(target.url, target)
        if status != 200 or (isinstance(body, dict) and body.get("errors")):
            raise RuntimeError(f"{name}: {status} {str(body)[:300]}")
        answers[name] = body
    for a, b in pairs:
        if answers[a] != answers[b]:
            raise RuntimeError(f"{a} and {b} answer differently")


async def check_cached(targets: list[Target]) -> None:
    """The cached server answers these from its cache (``X-Cache: hit``)."""
    for target in targets:
        client = HttpClient.from_url(target.url)
        try:
            path = "/" + target.url.split("/", 3)[3]
            await client.request(target.method, path, target.body, target.headers)
            state = client.last_headers.get("x-cache")
        finally:
            await client.close()
        if state != "hit":
            raise RuntimeError(f"{target.url}: X-Cache {state!r}, not a cache hit")


async def measure(target: Target, seconds: float, config: HttpConfig, workdir: Path) -> Throughput:
    result = await load(
        target.url,
        seconds=seconds,
        connections=config.connections,
        threads=config.threads,
        method=target.method,
        body=target.body,
        headers=target.headers,
        workdir=workdir,
    )
    if result.errors:
        raise RuntimeError(f"{result.errors} failed requests against {target.url}")
    return result


async def rounds(
    targets: dict[str, Target], config: HttpConfig, workdir: Path
) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {name: [] for name in targets}
    for target in targets.values():
        await measure(target, config.warmup, config, workdir)
    names = list(targets)
    for index in range(config.rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            runs[name].append(
                (await measure(targets[name], config.seconds, config, workdir)).requests_per_second
            )
        log(f"  round {index + 1}: " + ", ".join(f"{n} {runs[n][-1]:.0f}" for n in names))
    return runs


def paired(mine: list[float], theirs: list[float]) -> float:
    """The median of round-by-round ratios."""
    return median(ratios(mine, theirs))


def ratios(mine: list[float], theirs: list[float]) -> list[float]:
    return [a / b for a, b in zip(mine, theirs, strict=True) if b]


def line(
    name: str,
    runs: dict[str, list[float]],
    mine: str,
    base: str,
    base_name: str,
    target: float | None,
    shape: dict[str, object],
) -> Line:
    return Line(
        name,
        "req/s",
        median(runs[mine]),
        median(runs[base]),
        base_name,
        "report" if target is None else "min",
        target,
        notes=shape,
        paired_ratio=paired(runs[mine], runs[base]),
        comptoir_runs=runs[mine],
        ratio_runs=ratios(runs[mine], runs[base]),
    )


async def token_for(http_url: str, email: str) -> str:
    from bench.common import PASSWORD

    client = HttpClient.from_url(http_url)
    try:
        status, body = await client.json("POST", "/login", {"email": email, "password": PASSWORD})
    finally:
        await client.close()
    if status != 200:
        raise RuntimeError(f"login: {status} {body}")
    return str(body["access_token"])


async def rest_and_graphql(database_url: str, workdir: Path, config: HttpConfig) -> list[Line]:
    server = await start_comptoir("comptoir-http", database_url, workdir, HTTP_ENV)
    cached = await start_comptoir("comptoir-cached", database_url, workdir, CACHED_ENV)
    try:
        base_proc, base = await start_baseline(database_url, workdir)
        try:
            me = server.http_url
            token = await token_for(me, "user0@bench.test")
            auth = {"Authorization": f"Bearer {token}"}
            targets = {
                "tortoise": Target(base + "/tortoise/products"),
                "raw": Target(base + "/raw/products"),
                "strawberry": graphql_post(base, PRODUCTS_QUERY),
                "rest": Target(me + REST_PATH),
                "gql": graphql_post(me, PRODUCTS_QUERY),
                "raw_chat": Target(base + "/raw/chat", headers=auth),
                "rest_chat": Target(me + CHAT_PATH, headers=auth),
                "gql_chat": graphql_post(me, CHAT_QUERY, token),
                "rest_cached": Target(cached.http_url + REST_PATH),
                "gql_cached": graphql_post(cached.http_url, PRODUCTS_QUERY),
            }
            targets["apq_get"] = await register_apq(me, PRODUCTS_QUERY)
            targets["rest_304"] = await with_etag(Target(me + REST_PATH))
            await check_answers(
                targets,
                [
                    ("tortoise", "rest"),
                    ("raw", "rest"),
                    ("strawberry", "gql"),
                    ("raw_chat", "rest_chat"),
                    ("rest", "rest_cached"),
                    ("gql", "gql_cached"),
                ],
            )
            await check_cached([targets["rest_cached"], targets["gql_cached"]])
            runs = await rounds(targets, config, workdir)
        finally:
            base_proc.stop()
    finally:
        cached.proc.stop()
        server.proc.stop()
    shape: dict[str, object] = {
        "tool": "wrk" if have_wrk() else "python",
        "threads": config.threads,
        "connections": config.connections,
        "seconds_per_round": config.seconds,
        "rounds": runs,
        "products_query": PRODUCTS_QUERY,
        "chat_query": CHAT_QUERY,
    }
    return [
        line(
            "REST GET /products (50 rows)", runs, "rest", "tortoise", "Tortoise route", 0.8, shape
        ),
        line("REST GET /products (50 rows)", runs, "rest", "raw", "raw driver", 0.6, shape),
        line(
            "GraphQL products(first: 50), 7 fields",
            runs,
            "gql",
            "strawberry",
            "plain Strawberry",
            1.2,
            shape,
        ),
        line(
            "GraphQL products(first: 50), 7 fields",
            runs,
            "gql",
            "tortoise",
            "Tortoise route",
            1.0,
            shape,
        ),
        line(
            "GraphQL products(first: 50), 7 fields", runs, "gql", "raw", "raw driver", None, shape
        ),
        line(
            "plain Strawberry products(first: 50)",
            runs,
            "strawberry",
            "raw",
            "raw driver",
            None,
            shape,
        ),
        line(
            "REST chat page (50 messages)", runs, "rest_chat", "raw_chat", "raw driver", 0.6, shape
        ),
        line(
            "GraphQL chat page + author", runs, "gql_chat", "rest_chat", "Comptoir REST", 0.8, shape
        ),
        line("GraphQL chat page + author", runs, "gql_chat", "raw_chat", "raw driver", None, shape),
        line(
            "GraphQL products, APQ hash over GET",
            runs,
            "apq_get",
            "gql",
            "GraphQL POST",
            None,
            shape,
        ),
        line(
            "REST /products, If-None-Match (304)", runs, "rest_304", "rest", "REST 200", None, shape
        ),
        line(
            "GraphQL products, response cache hit",
            runs,
            "gql_cached",
            "gql",
            "uncached GraphQL",
            None,
            shape,
        ),
        line(
            "REST /products, response cache hit",
            runs,
            "rest_cached",
            "rest",
            "uncached REST",
            None,
            shape,
        ),
    ]
