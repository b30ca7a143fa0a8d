"""The WebSocket baseline: a bare ``websockets`` broadcast server.

Subscribers connect to ``/sub``; every text frame a publisher sends on
``/pub`` becomes one chat-shaped JSON frame, encoded once and handed to
``websockets.broadcast`` for every subscriber. No authentication, no
storage, no queues: the physical limit of the library on this machine.
Compression is off, as in Comptoir's default.

``python -m bench.baseline_ws --port N``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
from collections.abc import Callable
from datetime import UTC, datetime

from websockets.asyncio.server import ServerConnection, broadcast, serve

SUBSCRIBERS: set[ServerConnection] = set()
IDS = itertools.count(1)


async def handler(connection: ServerConnection) -> None:
    path = connection.request.path if connection.request else ""
    if path.startswith("/pub"):
        async for content in connection:
            frame = json.dumps(
                {
                    "type": "message",
                    "id": next(IDS),
                    "room": "general",
                    "room_id": 1,
                    "from_user": 1,
                    "content": content if isinstance(content, str) else content.decode(),
                    "timestamp": datetime.now(UTC).isoformat(),
                    "client_id": None,
                }
            )
            broadcast(SUBSCRIBERS, frame)
        return
    SUBSCRIBERS.add(connection)
    try:
        await connection.wait_closed()
    finally:
        SUBSCRIBERS.discard(connection)


def new_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a pinned dependency
        return None
    return uvloop.new_event_loop


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=64 * 1024):
        print("listening", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    # The same event loop as Comptoir's (uvicorn picks uvloop when installed).
    with asyncio.Runner(loop_factory=new_loop()) as runner:
        runner.run(main(port))
