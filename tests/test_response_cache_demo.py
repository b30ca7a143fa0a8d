"""The demo seed moves the catalogue's version, like every product write.

A server with the response cache on (RESPONSE_CACHE=1) answers
``GET /products`` from memory while the catalogue's version stays put. Its
catalogue is empty and cached when the demo data arrives from another
process: ``comptoir seed-demo``, or a ``DEMO=1`` server seeding the empty
database as it starts. Its next read must show the demo products, not the
cached empty list. The processes share a private ``redis-server`` (the
version lives there) and a scratch database of the suite's server.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from comptoir import demo
from tests.harness import scratch_database
from tests.live_helpers import redis_server
from tests.process_helpers import process_env, run_cli, server_process

pytestmark = pytest.mark.slow

HEADER = "x-cache"
SEEDED = sorted(name for name, *_ in demo.PRODUCTS)


async def cached_empty(http: httpx.AsyncClient) -> None:
    """An empty catalogue, answered from the cache the second time."""
    first = await http.get("/products")
    assert (first.headers[HEADER], first.json()) == ("miss", [])
    again = await http.get("/products")
    assert (again.headers[HEADER], again.json()) == ("hit", [])


@pytest.mark.parametrize("seeder", ["seed-demo", "DEMO=1 server"])
async def test_a_demo_seed_is_never_hidden_by_a_cached_catalogue(
    tmp_path: Path, seeder: str
) -> None:
    async with (
        redis_server(tmp_path) as broker,
        scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url,
    ):
        env = process_env(database_url, tmp_path, BROADCAST_URL=broker.url, RESPONSE_CACHE="1")
        async with server_process(env) as server, server.client() as http:
            await cached_empty(http)
            # The seeder: same database, broker and key prefix; DEMO=1.
            other = process_env(
                database_url,
                tmp_path,
                BROADCAST_URL=broker.url,
                RESPONSE_CACHE="1",
                PUBSUB_PREFIX=env["PUBSUB_PREFIX"],
                DEMO="1",
            )
            if seeder == "seed-demo":
                await run_cli("seed-demo", env=other)
            else:
                async with server_process(other, migrate=False):
                    pass  # seeded before it is healthy
            after = await http.get("/products")
            assert after.status_code == 200, after.text
            assert after.headers[HEADER] == "miss"
            assert sorted(p["name"] for p in after.json()) == SEEDED
