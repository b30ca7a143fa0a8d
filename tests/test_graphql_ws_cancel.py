"""A mutation cancelled while it runs leaves the database usable.

A client that sends ``complete`` for an operation in flight cancels it on
the server (so does a socket that closes, 1012 at shutdown). Whenever that
lands, even while the mutation's transaction is opening, the server goes on
answering, and a stop (SIGTERM) afterwards is clean. A cancellation that cut
the opening of a transaction in two kept the SQLite connection's lock (the
PostgreSQL pool's connection) for ever: every later query of the process
waited, and so did its shutdown, which stores last seen.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.account_helpers import bearer, register
from tests.harness import scratch_database
from tests.helpers import PROTOCOL
from tests.process_helpers import process_env, server_process

pytestmark = pytest.mark.slow

SEND = 'mutation ($c: String!) { sendMessage(room: "general", content: $c) { id } }'
ATTEMPTS = 240
# The cancellations are spread over this many seconds after each mutation is
# sent: from before it starts to after it commits.
SPREAD = 0.012
HANG_GUARD = 60  # seconds: a hang fails the test, speed is never asserted


async def _drain(ws: ClientConnection) -> None:
    async for _ in ws:
        pass


async def test_mutations_cancelled_at_any_point_leave_the_server_answering(
    tmp_path: Path,
) -> None:
    log = tmp_path / "server.log"
    async with (
        asyncio.timeout(HANG_GUARD),
        scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url,
        AsyncExitStack() as stack,
    ):
        env = process_env(database_url, tmp_path, MESSAGES_PER_WINDOW="100000", LOG_LEVEL="info")
        server = await stack.enter_async_context(server_process(env, log=log))
        http = await stack.enter_async_context(server.client())
        # Given a room
        _, token = await register(http, "canceller@example.com")
        created = await http.post("/chat/rooms", json={"name": "general"}, headers=bearer(token))
        assert created.status_code == 201, created.text
        url = server.http_url.replace("http://", "ws://", 1) + "/graphql"
        async with connect(url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": bearer(token)}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            # What the server answers is read (and dropped) as it comes.
            reader = asyncio.create_task(_drain(ws))

            # When mutations are completed by the client while they run, each
            # a little later after its start than the one before
            for n in range(ATTEMPTS):
                payload = {"query": SEND, "variables": {"c": f"m{n}"}}
                await ws.send(json.dumps({"id": f"m{n}", "type": "subscribe", "payload": payload}))
                await asyncio.sleep(SPREAD * n / ATTEMPTS)
                await ws.send(json.dumps({"id": f"m{n}", "type": "complete"}))
            await ws.close()
            await reader

        # Then the server still answers, and stops cleanly
        after = await http.post(
            "/chat/rooms/general/messages", json={"content": "after"}, headers=bearer(token)
        )
        history = await http.get("/chat/rooms/general/messages", headers=bearer(token))
        returncode = await server.stop()

    assert after.status_code == 201, after.text
    assert history.status_code == 200, history.text
    assert history.json()[-1]["content"] == "after", history.text[-500:]
    assert returncode in (0, -signal.SIGTERM)
    output = log.read_text()
    assert "Application shutdown complete" in output, output[-2000:]
    assert "Traceback" not in output, output[-4000:]
    assert "shutdown: " not in output, output[-4000:]
