"""Every Prometheus metric of Comptoir, in one place (prometheus_client).

Each process serves its own ``/metrics`` (Prometheus scrapes each replica):
no multiprocess mode. Label values are bounded: routes are templates
(``/products/{id}``), GraphQL operation names are client-chosen, so only the
first :data:`MAX_OPERATION_NAMES` distinct ones get a series of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "exposition"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
MAX_OPERATION_NAMES = 200
OTHER = "other"
UNNAMED = "anonymous"

# --- HTTP -------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "comptoir_http_requests",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "comptoir_http_request_duration_seconds",
    "Time from request to the end of the response, by route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)

# --- GraphQL ----------------------------------------------------------------------------
GRAPHQL_OPERATIONS = Counter(
    "comptoir_graphql_operations",
    "GraphQL operations executed, by operation name and type.",
    ["name", "type"],
)
GRAPHQL_ERRORS = Counter(
    "comptoir_graphql_errors",
    "GraphQL errors returned, by extensions.code.",
    ["code"],
)

# --- WebSocket (server: "chat" on WS_PORT, "graphql" on /graphql) -------------------------
WS_CONNECTIONS = Gauge("comptoir_ws_connections", "Open WebSocket connections.", ["server"])
WS_SUBSCRIPTIONS = Gauge(
    "comptoir_ws_subscriptions", "Active subscriptions (rooms joined, GraphQL ones).", ["server"]
)
WS_FRAMES = Counter(
    "comptoir_ws_frames", "WebSocket frames, by direction (in, out).", ["server", "direction"]
)
WS_DELIVERIES = Counter(
    "comptoir_ws_deliveries", "Events delivered to a subscriber (chat or GraphQL).", ["server"]
)
WS_SLOW_READER_CLOSES = Counter(
    "comptoir_ws_slow_reader_closes",
    "Connections closed because their client did not read fast enough.",
    ["server"],
)
PUBSUB_LAG = Histogram(
    "comptoir_pubsub_lag_seconds",
    "Time from publishing an event to delivering it to a subscriber.",
    buckets=LAG_BUCKETS,
)

# --- Limits and pools -------------------------------------------------------------------
RATE_LIMIT_HITS = Counter(
    "comptoir_rate_limit_hits",
    "Requests refused by a rate limit, by kind (login, register, message...).",
    ["kind"],
)
RESPONSE_CACHE = Counter(
    "comptoir_response_cache",
    "Cacheable reads, by what the response cache did (hit, miss, bypass).",
    ["result"],
)
BCRYPT_RUNS = Counter(
    "comptoir_bcrypt_runs",
    "bcrypt runs done in the pool, by kind: hash (a new password) or check (a "
    "login's password, against the account's hash or, for an unknown email, a "
    "stand-in hash).",
    ["kind"],
)
BCRYPT_QUEUE = Gauge(
    "comptoir_bcrypt_queue_depth",
    "Password hashes waiting for or running in the bcrypt thread pool.",
)

_operation_names: set[str] = set()


def operation_label(name: str | None) -> str:
    """A bounded label for a client-chosen operation name."""
    if not name:
        return UNNAMED
    name = name[:64]
    if name in _operation_names:
        return name
    if len(_operation_names) >= MAX_OPERATION_NAMES:
        return OTHER
    _operation_names.add(name)
    return name


class DatabasePool(Collector):
    """The database pool read at scrape time (PostgreSQL; SQLite has none)."""

    def collect(self) -> Iterator[Metric]:
        size = GaugeMetricFamily(
            "comptoir_db_pool_connections",
            "Connections of the database pool, by state (open, idle, max).",
            labels=["state"],
        )
        pool = _asyncpg_pool()
        if pool is not None:
            size.add_metric(["open"], pool.get_size())
            size.add_metric(["idle"], pool.get_idle_size())
            size.add_metric(["max"], pool.get_max_size())
        yield size


def _asyncpg_pool() -> Any:
    from tortoise import Tortoise

    try:
        connection = Tortoise.get_connection("default")
    except Exception:  # not connected (yet), or no such connection
        return None
    pool = getattr(connection, "_pool", None)
    return pool if hasattr(pool, "get_idle_size") else None


REGISTRY.register(DatabasePool())


def exposition() -> bytes:
    return generate_latest(REGISTRY)
