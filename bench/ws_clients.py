"""WebSocket receivers in their own process, for the fan-out lines.

``python -m bench.ws_clients SPEC.json`` opens ``count`` connections
(``protocol``: ``raw`` for the bare server, ``comptoir`` for the chat
server, ``graphql`` for graphql-transport-ws subscriptions), then prints
``READY``. Messages carry ``s=<seq> t=<monotonic send time>`` in their
content; ``phases`` lists how many messages each phase sends, and the
process prints ``PHASE k`` once every connection got all of phase k, then
``RESULT <json>`` (per phase: deliveries, duplicates, first/last arrival,
latencies in ms) and exits. With no phases it holds the connections idle
until its standard input closes. Bounded by ``within`` seconds in all.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bench.wsproto import Connection, open_connection

PATTERN = re.compile(rb"s=(\d+) t=(\d+\.\d+)")
SUBSCRIPTION = 'subscription { roomMessages(room: "%s") { %s } }'
SELECTION = "id content"
CONNECT_PARALLEL = 50


@dataclass
class Phase:
    size: int
    start: int
    delivered: int = 0
    duplicates: int = 0
    complete: int = 0
    first: float = float("inf")
    last: float = 0.0
    latencies: list[float] = field(default_factory=list)


async def expect(conn: Connection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            message: dict[str, Any] = json.loads(await conn.recv())
            if message.get("type") == kind:
                return message
            if message.get("type") in {"error", "connection_error"}:
                raise RuntimeError(f"server said {message}")


async def open_receiver(
    url: str, protocol: str, token: str | None, room: str, selection: str = SELECTION
) -> Connection:
    """One receiver, connected and listening to ``room`` (GraphQL: selecting ``selection``)."""
    headers = {"Authorization": f"Bearer {token}"} if token and protocol != "graphql" else None
    if protocol == "graphql":
        conn = await open_connection(url, subprotocol="graphql-transport-ws")
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        conn.send_text(json.dumps(init))
        await expect(conn, "connection_ack")
        query = {"query": SUBSCRIPTION % (room, selection)}
        conn.send_text(json.dumps({"type": "subscribe", "id": "1", "payload": query}))
    else:
        conn = await open_connection(url, headers=headers)
        if protocol == "comptoir":
            await expect(conn, "ready")
            conn.send_text(json.dumps({"type": "join", "room": room, "ref": "j"}))
            await expect(conn, "joined")
    return conn


class Clients:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.phases: list[Phase] = []
        start = 0
        for size in spec.get("phases", []):
            self.phases.append(Phase(size, start))
            start += size
        self.total = start
        self.connections: list[Connection] = []
        self.errors: list[str] = []
        self.done = asyncio.Event()
        self.finished = 0

    def phase_of(self, seq: int) -> int:
        for index, phase in enumerate(self.phases):
            if phase.start <= seq < phase.start + phase.size:
                return index
        return -1

    async def open(self, index: int, gate: asyncio.Semaphore) -> Connection:
        tokens = self.spec["tokens"]
        token = tokens[index % len(tokens)] if tokens else None
        async with gate:
            return await open_receiver(
                self.spec["url"],
                self.spec["protocol"],
                token,
                self.spec["room"],
                self.spec.get("selection", SELECTION),
            )

    def listen(self, conn: Connection) -> None:
        seen: set[int] = set()
        got = [0] * len(self.phases)
        remaining = [self.total]

        def on_text(payload: bytes) -> None:
            now = time.monotonic()
            match = PATTERN.search(payload)
            if match is None:
                return
            seq = int(match.group(1))
            index = self.phase_of(seq)
            if index < 0:
                return
            phase = self.phases[index]
            if seq in seen:
                phase.duplicates += 1
                return
            seen.add(seq)
            phase.delivered += 1
            phase.latencies.append((now - float(match.group(2))) * 1000)
            if now < phase.first:
                phase.first = now
            if now > phase.last:
                phase.last = now
            got[index] += 1
            if got[index] == phase.size:
                phase.complete += 1
                if phase.complete == len(self.connections):
                    print(f"PHASE {index}", flush=True)
            remaining[0] -= 1
            if remaining[0] == 0:
                self.finished += 1
                if self.finished == len(self.connections):
                    self.done.set()

        # Frames that arrived during set-up are replayed first.
        while not conn.queue.empty():
            on_text(conn.queue.get_nowait())
        conn.on_text = on_text

        def lost(_: asyncio.Future[None]) -> None:
            if remaining[0] > 0:
                self.errors.append(f"connection closed with {remaining[0]} messages missing")

        conn.closed.add_done_callback(lost)

    def result(self) -> dict[str, Any]:
        return {
            "connections": len(self.connections),
            "errors": self.errors[:20],
            "error_count": len(self.errors),
            "phases": [
                {
                    "size": p.size,
                    "delivered": p.delivered,
                    "duplicates": p.duplicates,
                    "complete": p.complete,
                    "first": None if p.first == float("inf") else p.first,
                    "last": p.last,
                    "latencies": [round(x, 3) for x in p.latencies],
                }
                for p in self.phases
            ],
        }


async def main(spec: dict[str, Any]) -> None:
    clients = Clients(spec)
    gate = asyncio.Semaphore(CONNECT_PARALLEL)
    try:
        async with asyncio.timeout(float(spec.get("within", 120))):
            clients.connections = list(
                await asyncio.gather(*(clients.open(i, gate) for i in range(spec["count"])))
            )
            for conn in clients.connections:
                clients.listen(conn)
            print("READY", flush=True)
            if clients.total:
                await clients.done.wait()
            else:
                # Idle: hold the connections until the parent closes stdin.
                await asyncio.to_thread(sys.stdin.read)
    except TimeoutError:
        clients.errors.append("timed out")
    except Exception as error:
        clients.errors.append(f"set-up failed: {error!r}"[:300])
    finally:
        print("RESULT " + json.dumps(clients.result()), flush=True)
        for conn in clients.connections:
            conn.abort()


if __name__ == "__main__":
    # The spec is a JSON file (a thousand tokens do not fit in one argument).
    with open(sys.argv[1], encoding="utf-8") as handle:
        loaded = json.load(handle)
    asyncio.run(main(loaded))
