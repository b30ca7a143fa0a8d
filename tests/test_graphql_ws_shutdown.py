"""SIGTERM while GraphQL subscriptions are live and operations are in flight.

The GraphQL WebSocket door gets the chat server's guarantee (ws/server.py):
nothing outlives shutdown. uvicorn closes every connection with 1012;
messages still queued on a closing connection are not handled; handlers
still running past the graceful timeout, and the fan-out's workers, are
cancelled and awaited before the runtime stops
(``schema.live_transport.LiveSockets.close``). So the log shows no
traceback, no error and no "runtime not started", and every client gets a
close frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.account_helpers import bearer, register
from tests.harness import scratch_database
from tests.helpers import PROTOCOL
from tests.process_helpers import process_env, server_process

pytestmark = pytest.mark.slow

SOCKETS = 6
USERS = 3
# The author's name costs a query per group and event: executions are at
# work (and awaiting the database) when the signal comes.
WITH_AUTHOR = (
    'subscription { roomMessages(room: "general") { id content author { id displayName } } }'
)
IDS_ONLY = 'subscription { roomMessages(room: "general") { id } }'
SEND = 'mutation ($c: String!) { sendMessage(room: "general", content: $c) { id } }'
HANG_GUARD = 60  # seconds: a hang fails the test, speed is never asserted


class Reader:
    """Keeps what one GraphQL socket receives, until it is closed."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.nexts: dict[str, int] = {"with-author": 0, "ids": 0}
        self.errors: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message.get("id") not in self.nexts:
                    continue  # a mutation's result
                if message["type"] != "next" or message["payload"].get("errors"):
                    self.errors.append(message)  # a subscription's end, or an error
                else:
                    self.nexts[message["id"]] += 1
        except ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd is not None else 1006
        else:
            rcvd = self.ws.protocol.close_rcvd
            self.close_code = rcvd.code if rcvd is not None else 1006

    @property
    def live(self) -> bool:
        return all(count > 0 for count in self.nexts.values())


async def _open(url: str, token: str, stack: AsyncExitStack) -> ClientConnection:
    ws = await stack.enter_async_context(connect(url, subprotocols=[PROTOCOL]))  # type: ignore[list-item]
    init = {"type": "connection_init", "payload": bearer(token)}
    await ws.send(json.dumps(init))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    for op_id, query in (("with-author", WITH_AUTHOR), ("ids", IDS_ONLY)):
        await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}}))
    return ws


async def _post_forever(http: httpx.AsyncClient, token: str) -> None:
    """REST sends, until the server stops answering."""
    n = 0
    with contextlib.suppress(httpx.TransportError):
        while True:
            response = await http.post(
                "/chat/rooms/general/messages", json={"content": f"rest {n}"}, headers=bearer(token)
            )
            if response.status_code != 201:
                return
            n += 1


async def _mutate_forever(ws: ClientConnection) -> None:
    """Mutations over the socket, sent without waiting for their results:
    some are in flight, some queued, when the signal comes."""
    n = 0
    with contextlib.suppress(ConnectionClosed):
        while True:
            payload = {"query": SEND, "variables": {"c": f"ws {n}"}}
            await ws.send(json.dumps({"id": f"m{n}", "type": "subscribe", "payload": payload}))
            n += 1
            await asyncio.sleep(0.02)


async def test_sigterm_ends_graphql_sockets_cleanly_with_nothing_outliving_it(
    tmp_path: Path,
) -> None:
    log = tmp_path / "server.log"
    async with (
        asyncio.timeout(HANG_GUARD),
        scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url,
        AsyncExitStack() as stack,
    ):
        env = process_env(
            database_url,
            tmp_path,
            MESSAGES_PER_WINDOW="100000",
            REGISTER_IP_MAX="1000",
            GRAPHQL_WS_MAX_CONNECTIONS_PER_USER=str(SOCKETS),
            LOG_LEVEL="info",
        )
        server = await stack.enter_async_context(server_process(env, log=log))
        http = await stack.enter_async_context(server.client())
        tokens = [(await register(http, f"u{i}@example.com"))[1] for i in range(USERS)]
        created = await http.post(
            "/chat/rooms", json={"name": "general"}, headers=bearer(tokens[0])
        )
        assert created.status_code == 201, created.text
        url = server.http_url.replace("http://", "ws://", 1) + "/graphql"
        sockets = [await _open(url, tokens[i % USERS], stack) for i in range(SOCKETS)]
        readers = [Reader(ws) for ws in sockets]
        workers = [asyncio.create_task(_post_forever(http, tokens[1]))]
        workers += [asyncio.create_task(_mutate_forever(ws)) for ws in sockets[: SOCKETS // 2]]
        for task in workers:
            stack.callback(task.cancel)
        # Given every subscription live, events flowing and mutations in flight
        while not all(reader.live for reader in readers):
            await asyncio.sleep(0.05)

        # When the server is asked to stop
        server.process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(reader.task for reader in readers))
        returncode = await server.stop()
        for task in workers:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task

    # Then every client got a close frame (uvicorn's 1012, "service restart")
    assert [reader.close_code for reader in readers] == [1012] * SOCKETS
    assert [reader.errors for reader in readers] == [[]] * SOCKETS
    # and the process stopped by itself, with nothing running past the runtime.
    assert returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the SIGTERM it handled
    output = log.read_text()
    assert "Application shutdown complete" in output, output[-2000:]
    assert "runtime not started" not in output, output[-4000:]
    assert "Traceback" not in output, output[-4000:]
    assert " ERROR " not in output, output[-4000:]
