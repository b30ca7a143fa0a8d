"""The CI-sized version of the WebSocket load (``bench/load_ws.py`` runs 1,000 clients).

Many concurrent chat clients in several rooms, a fixed number of messages
each: every message is acknowledged, delivered to every member of its room
exactly once, and stored once; the server's memory stays bounded.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.load_ws import run_load
from tests.account_helpers import register
from tests.harness import scratch_database
from tests.process_helpers import process_env, server_process

pytestmark = pytest.mark.slow

CLIENTS = 120
ROOMS = 6
MESSAGES = 3
USERS = 12


async def test_many_clients_in_many_rooms_get_every_message_once(tmp_path: Path) -> None:
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url:
        env = process_env(
            database_url,
            tmp_path,
            MESSAGES_PER_WINDOW="10000",
            WS_MAX_CONNECTIONS_PER_USER=str(CLIENTS // USERS + 1),
        )
        async with server_process(env) as server:
            async with server.client() as client:
                tokens = [(await register(client, f"load{i}@example.com"))[1] for i in range(USERS)]
            result = await run_load(
                server.ws_url,
                server.http_url,
                tokens,
                CLIENTS,
                ROOMS,
                MESSAGES,
                server_pid=server.process.pid,
                deadline=90,
            )
    summary = result.summary()
    assert result.errors == [], summary
    assert result.acked == CLIENTS * MESSAGES, summary
    assert result.delivered == result.expected_deliveries, summary
    assert result.duplicates == 0, summary
    assert result.missing == 0, summary
    assert result.stored == CLIENTS * MESSAGES, summary
    assert result.ok, summary
    # Bounded memory: well under 256 KiB per client (an idle one costs ~20 KiB).
    assert result.server_rss_kib_peak is not None
    assert result.server_rss_kib_before is not None
    growth = result.server_rss_kib_peak - result.server_rss_kib_before
    assert growth < CLIENTS * 256, summary
