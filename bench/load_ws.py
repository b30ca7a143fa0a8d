"""Load held: many WebSocket chat clients on one process, several rooms.

Every client joins one room (client ``i`` joins room ``i % rooms``), then
sends ``messages_per_client`` messages, each with a ``ref`` and a
``client_id``, one after another as acks come back. The run checks that
every client received every message of its room exactly once (its own
included), that every acked message is stored (read back through
``GET /chat/rooms/{room}/messages``), and, given the server's pid, how its
memory grew. Bounded: ``deadline`` seconds in all.

Tests import :func:`run_load` (a CI-sized run: e.g. 100 clients, 5 rooms,
3 messages each; the server needs WS_MAX_CONNECTIONS_PER_USER and
MESSAGES_PER_WINDOW high enough for the tokens given). The command line
starts its own server on a scratch SQLite database:

    python -m bench.load_ws --clients 1000 --rooms 10 --messages 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bench.common import HttpClient, rss_kib
from bench.wsproto import Connection, open_connection

ROOM_PREFIX = "load-"
CONNECT_PARALLEL = 50
HISTORY_PAGE = 100


@dataclass
class LoadResult:
    clients: int
    rooms: int
    messages_per_client: int
    sent: int = 0
    acked: int = 0
    expected_deliveries: int = 0
    delivered: int = 0
    duplicates: int = 0
    missing: int = 0
    stored: int = 0
    not_stored: int = 0
    seconds: float = 0.0
    connect_seconds: float = 0.0
    server_rss_kib_before: int | None = None
    server_rss_kib_peak: int | None = None
    server_rss_kib_after: int | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        total = self.clients * self.messages_per_client
        return (
            not self.errors
            and self.acked == total
            and self.delivered == self.expected_deliveries
            and self.duplicates == 0
            and self.missing == 0
            and self.stored == total
            and self.not_stored == 0
        )

    def summary(self) -> dict[str, Any]:
        return {**self.__dict__, "errors": self.errors[:20], "ok": self.ok}


class LoadClient:
    def __init__(self, index: int, room: str, expected: int) -> None:
        self.index = index
        self.room = room
        self.expected = expected
        self.conn: Connection | None = None
        self.seen: set[int] = set()
        self.duplicates = 0
        self.acks: dict[str, asyncio.Future[int]] = {}
        self.errors: list[str] = []
        self.complete = asyncio.Event()

    def on_text(self, payload: bytes) -> None:
        frame = json.loads(payload)
        kind = frame.get("type")
        if kind == "message":
            if frame.get("room") != self.room:
                self.errors.append(f"client {self.index}: message of room {frame.get('room')}")
                return
            message_id = frame["id"]
            if message_id in self.seen:
                self.duplicates += 1
                return
            self.seen.add(message_id)
            if len(self.seen) == self.expected:
                self.complete.set()
        elif kind == "ack":
            future = self.acks.pop(str(frame.get("ref")), None)
            if future is not None and not future.done():
                future.set_result(int(frame["id"]))
        elif kind == "error":
            self.errors.append(f"client {self.index}: {frame}"[:300])
            future = self.acks.pop(str(frame.get("ref")), None)
            if future is not None and not future.done():
                future.set_exception(RuntimeError(frame.get("code", "error")))


async def _ensure_rooms(http_url: str, token: str, names: list[str]) -> None:
    client = HttpClient.from_url(http_url)
    try:
        for name in names:
            status, body = await client.json(
                "POST", "/chat/rooms", {"name": name, "is_private": False}, token=token
            )
            if status not in (201, 409):
                raise RuntimeError(f"create room {name}: {status} {body}")
    finally:
        await client.close()


async def _stored_ids(http_url: str, token: str, room: str, oldest: int) -> set[int]:
    """Ids of the room's stored messages down to ``oldest``, newest pages first."""
    client = HttpClient.from_url(http_url)
    ids: set[int] = set()
    before: int | None = None
    try:
        for _ in range(100_000):  # bounded: a page per 100 messages
            path = f"/chat/rooms/{room}/messages?limit={HISTORY_PAGE}"
            if before is not None:
                path += f"&before={before}"
            status, rows = await client.json("GET", path, token=token)
            if status != 200:
                raise RuntimeError(f"history {room}: {status} {rows}")
            if not rows:
                break
            ids.update(int(r["id"]) for r in rows)
            before = min(int(r["id"]) for r in rows)
            if before <= oldest:
                break
    finally:
        await client.close()
    return ids


async def run_load(
    ws_url: str,
    http_url: str,
    tokens: list[str],
    clients: int,
    rooms: int,
    messages_per_client: int,
    *,
    server_pid: int | None = None,
    deadline: float = 300.0,
) -> LoadResult:
    """Run the load; never raises for a failed delivery: the result says."""
    result = LoadResult(clients, rooms, messages_per_client)
    names = [f"{ROOM_PREFIX}{r}" for r in range(rooms)]
    members = [sum(1 for i in range(clients) if i % rooms == r) for r in range(rooms)]
    population = [
        LoadClient(i, names[i % rooms], members[i % rooms] * messages_per_client)
        for i in range(clients)
    ]
    result.expected_deliveries = sum(c.expected for c in population)
    acked: dict[str, set[int]] = {name: set() for name in names}
    peak = [0]
    sampler: asyncio.Task[None] | None = None

    async def sample() -> None:
        assert server_pid is not None
        while True:
            peak[0] = max(peak[0], rss_kib(server_pid))
            await asyncio.sleep(0.25)

    if server_pid is not None:
        result.server_rss_kib_before = rss_kib(server_pid)
        sampler = asyncio.create_task(sample())
    gate = asyncio.Semaphore(CONNECT_PARALLEL)

    async def connect(client: LoadClient) -> None:
        token = tokens[client.index % len(tokens)]
        async with gate:
            conn = await open_connection(ws_url, headers={"Authorization": f"Bearer {token}"})
            client.conn = conn
            await _expect(conn, "ready")
            conn.send_text(json.dumps({"type": "join", "room": client.room, "ref": "join"}))
            await _expect(conn, "joined")
            while not conn.queue.empty():
                client.on_text(conn.queue.get_nowait())
            conn.on_text = client.on_text

    async def send_all(client: LoadClient) -> None:
        assert client.conn is not None
        loop = asyncio.get_running_loop()
        for k in range(messages_per_client):
            ref = f"m{k}"
            future: asyncio.Future[int] = loop.create_future()
            client.acks[ref] = future
            client.conn.send_text(
                json.dumps(
                    {
                        "type": "message",
                        "room": client.room,
                        "content": f"load message {k} from client {client.index}",
                        "client_id": f"load-{client.index}-{k}",
                        "ref": ref,
                    }
                )
            )
            result.sent += 1
            message_id = await future
            acked[client.room].add(message_id)
            result.acked += 1

    started = time.monotonic()
    try:
        async with asyncio.timeout(deadline):
            await _ensure_rooms(http_url, tokens[0], names)
            await asyncio.gather(*(connect(c) for c in population))
            result.connect_seconds = time.monotonic() - started
            sends = await asyncio.gather(*(send_all(c) for c in population), return_exceptions=True)
            result.errors += [repr(e)[:200] for e in sends if isinstance(e, BaseException)]
            waiting = [c.complete.wait() for c in population if not c.complete.is_set()]
            await asyncio.gather(*waiting)
    except TimeoutError:
        result.errors.append(f"timed out after {deadline}s")
    except Exception as error:
        result.errors.append(f"load failed: {error!r}"[:300])
    finally:
        result.seconds = time.monotonic() - started
        for client in population:
            result.delivered += len(client.seen)
            result.duplicates += client.duplicates
            result.missing += max(0, client.expected - len(client.seen))
            result.errors += client.errors[:3]
            if client.conn is not None:
                await client.conn.close()
        if sampler is not None:
            sampler.cancel()
            result.server_rss_kib_peak = peak[0]
            assert server_pid is not None
            result.server_rss_kib_after = rss_kib(server_pid)
    for name in names:
        if not acked[name]:
            continue
        stored = await _stored_ids(http_url, tokens[0], name, min(acked[name]))
        result.stored += len(acked[name] & stored)
        result.not_stored += len(acked[name] - stored)
    return result


async def _expect(conn: Connection, kind: str) -> None:
    async with asyncio.timeout(30):
        while True:
            frame = json.loads(await conn.recv())
            if frame.get("type") == kind:
                return
            if frame.get("type") == "error":
                raise RuntimeError(f"server said {frame}")


async def standalone(clients: int, rooms: int, messages: int, deadline: float) -> LoadResult:
    """Start a server on a scratch SQLite database and run the load against it."""
    from bench.common import log, run_module, start_comptoir, workspace
    from bench.ws_bench import WS_BENCH_ENV, login_all

    with workspace() as workdir:
        url = f"sqlite://{workdir / 'load.sqlite3'}"
        users = max(1, min(100, clients))
        await run_module("bench.seed", url, "--users", str(users), "--login-users", "0", within=120)
        env = {**WS_BENCH_ENV, "WS_MAX_CONNECTIONS_PER_USER": str(clients // users + 1)}
        server = await start_comptoir("comptoir-load", url, workdir, env)
        try:
            tokens = await login_all(server.http_url, [f"user{i}@bench.test" for i in range(users)])
            log(f"load: {clients} clients, {rooms} rooms, {messages} messages each")
            return await run_load(
                server.ws_url,
                server.http_url,
                tokens,
                clients,
                rooms,
                messages,
                server_pid=server.proc.pid,
                deadline=deadline,
            )
        finally:
            server.proc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_ws", description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--deadline", type=float, default=300)
    args = parser.parse_args()
    result = asyncio.run(standalone(args.clients, args.rooms, args.messages, args.deadline))
    print(json.dumps(result.summary(), indent=2))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
