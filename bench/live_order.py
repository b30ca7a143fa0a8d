"""Live order across 3 processes: every door sends at once, every record is checked.

Three Comptoir processes share a scratch PostgreSQL database and Redis.
Senders on each process and door (REST, GraphQL mutation, chat WS frame)
post to one room at once; on each process a chat WS client and a GraphQL
subscriber record what they receive. Each record is compared with the
stored history: out-of-order, missing and duplicate ids are counted (the
target is 0 of each).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from bench.common import HttpClient, Server, log, scratch_postgres, start_comptoir
from bench.report import Line

PROCESSES = 3
DOORS = ("rest", "graphql", "ws")
ENV = {
    "MESSAGES_PER_WINDOW": "1000000",
    "REGISTER_IP_MAX": "100000",
    "BCRYPT_ROUNDS": "4",
    "WS_FRAME_RATE": "1000000",
}
SEND = 'mutation ($c: String!) { sendMessage(room: "general", content: $c) { id } }'
SUBSCRIBE = 'subscription ($a: ID) { roomMessages(room: "general", after: $a) { id } }'


async def _register(http: HttpClient, email: str) -> str:
    status, body = await http.json(
        "POST", "/register", {"email": email, "password": "correct horse battery"}
    )
    if status != 201:
        raise RuntimeError(f"register: {status} {body}")
    return str(body["access_token"])


async def _ws_record(server: Server, token: str, after: int, out: list[int]) -> ClientConnection:
    ws = await connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    await ws.recv()  # ready
    await ws.send(json.dumps({"type": "join", "room": "general", "after": after}))

    async def read() -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") == "message":
                out.append(frame["id"])

    ws.reader = asyncio.create_task(read())  # type: ignore[attr-defined]
    return ws


async def _gql_record(server: Server, token: str, after: int, out: list[int]) -> ClientConnection:
    url = server.http_url.replace("http://", "ws://") + "/graphql"
    ws = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    await ws.recv()  # connection_ack
    payload = {"query": SUBSCRIBE, "variables": {"a": str(after)}}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))

    async def read() -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif message.get("type") == "next":
                out.append(int(message["payload"]["data"]["roomMessages"]["id"]))

    ws.reader = asyncio.create_task(read())  # type: ignore[attr-defined]
    return ws


async def _send(server: Server, door: str, token: str, count: int) -> None:
    if door == "ws":
        ws = await connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
        await ws.recv()
        for n in range(count):
            await ws.send(
                json.dumps({"type": "message", "room": "general", "content": f"w{n}", "ref": n})
            )
            while json.loads(await ws.recv()).get("ref") != n:
                pass
        await ws.close()
        return
    http = HttpClient.from_url(server.http_url)
    try:
        for n in range(count):
            if door == "rest":
                status, body = await http.json(
                    "POST", "/chat/rooms/general/messages", {"content": f"r{n}"}, token
                )
                ok = status == 201
            else:
                status, body = await http.json(
                    "POST", "/graphql", {"query": SEND, "variables": {"c": f"g{n}"}}, token
                )
                ok = status == 200 and not body.get("errors")
            if not ok:
                raise RuntimeError(f"{door} send: {status} {body}")
    finally:
        await http.close()


def _score(got: list[int], want: list[int]) -> dict[str, int]:
    wanted = set(want)
    seen: set[int] = set()
    duplicates = out_of_order = 0
    for before, after in zip(got, got[1:], strict=False):
        if after <= before:
            out_of_order += 1
    for i in got:
        if i in seen:
            duplicates += 1
        seen.add(i)
    return {
        "out_of_order": out_of_order,
        "missing": len(wanted - seen),
        "duplicate": duplicates,
        "unexpected": len(seen - wanted),
    }


async def live_order_line(pg_url: str, redis_url: str, workdir: Path, per_sender: int) -> Line:
    env = {
        **ENV,
        "BROADCAST_URL": redis_url,
        "PUBSUB_PREFIX": f"bench-order-{uuid.uuid4().hex[:8]}",
    }
    async with scratch_postgres(pg_url) as database_url:
        servers = [await start_comptoir("order-0", database_url, workdir, env, migrate=True)]
        try:
            for p in range(1, PROCESSES):
                servers.append(await start_comptoir(f"order-{p}", database_url, workdir, env))
            return await _run(servers, per_sender)
        finally:
            for server in servers:
                server.proc.stop()


async def _run(servers: list[Server], per_sender: int) -> Line:
    http = HttpClient.from_url(servers[0].http_url)
    try:
        owner = await _register(http, "owner@bench.test")
        status, _ = await http.json("POST", "/chat/rooms", {"name": "general"}, owner)
        status, first = await http.json(
            "POST", "/chat/rooms/general/messages", {"content": "start"}, owner
        )
        start = int(first["id"])
        records: list[list[int]] = []
        sockets: list[ClientConnection] = []
        for p, server in enumerate(servers):
            reader = await _register(http, f"reader{p}@bench.test")
            for record in (_ws_record, _gql_record):
                out: list[int] = []
                records.append(out)
                sockets.append(await record(server, reader, start, out))
        senders = []
        for p, server in enumerate(servers):
            for door in DOORS:
                token = await _register(http, f"{door}{p}@bench.test")
                senders.append(_send(server, door, token, per_sender))
        await asyncio.sleep(1.0)  # the records' replays are done
        t0 = asyncio.get_running_loop().time()
        await asyncio.gather(*senders)
        seconds = asyncio.get_running_loop().time() - t0
        await http.close()  # idle past the server's keep-alive meanwhile: reconnect
        stored: list[int] = []
        while True:
            status, page = await http.json(
                "GET",
                f"/chat/rooms/general/messages?limit=100&after={stored[-1] if stored else start}",
                None,
                owner,
            )
            stored += [m["id"] for m in page]
            if len(page) < 100:
                break
        for _ in range(200):  # up to 10 s for the last deliveries
            if all(len(r) >= len(stored) for r in records):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        for ws in sockets:
            ws.reader.cancel()  # type: ignore[attr-defined]
            await ws.close()
    finally:
        await http.close()
    scores = [_score(r, stored) for r in records]
    totals = {k: sum(s[k] for s in scores) for k in scores[0]}
    log(f"  {len(stored)} messages, {len(records)} records: {totals}")
    sent = len(stored)
    return Line(
        f"live order across {PROCESSES} processes ({len(records)} records, every door)",
        "msg/s sent",
        sent / seconds if seconds else float("nan"),
        float("nan"),
        "none",
        extra_check="0 out-of-order / missing / duplicate",
        extra_ok=sent == PROCESSES * len(DOORS) * per_sender and not any(totals.values()),
        notes={"totals": totals, "records": scores, "messages": sent},
    )
