"""Checks for .ci/package/run.sh: the installed replicas (and the proxy) answer."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid

import httpx
from websockets.asyncio.client import connect


def say(text: str) -> None:
    sys.stdout.write(text + "\n")


async def wait_healthy(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=3) as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} did not become healthy")


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    say(f"ok: {what}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", nargs=2, required=True)
    parser.add_argument("--proxy", default="")
    parser.add_argument("--proxy-ws", default="")
    args = parser.parse_args()
    first, second = args.replicas
    for url in args.replicas:
        await wait_healthy(url)
    base = args.proxy or first
    if args.proxy:
        await wait_healthy(args.proxy)
    email = f"pkg-{uuid.uuid4().hex[:8]}@example.com"
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        registered = await http.post(
            "/register", json={"email": email, "password": "long enough pw"}
        )
        expect(registered.status_code == 201, f"register through {base}")
        token = registered.json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        query = await http.post(
            "/graphql",
            json={"query": "query Smoke { products(first: 1) { totalCount } }"},
            headers=bearer,
        )
        expect(query.status_code == 200 and "errors" not in query.json(), "GraphQL query")
        if args.proxy:
            tagged = await http.get("/health", headers={"X-Request-ID": "package-smoke-1"})
            expect(
                tagged.headers.get("x-request-id") == "package-smoke-1",
                "X-Request-ID kept through the trusted proxy",
            )
            expect((await http.get("/metrics")).status_code == 404, "the proxy hides /metrics")
    async with httpx.AsyncClient(base_url=second, timeout=10) as http:
        me = await http.get("/me", headers=bearer)
        expect(me.status_code == 200 and me.json()["email"] == email, "the other replica knows it")
    async with httpx.AsyncClient(base_url=first, timeout=10) as http:
        metrics_token = os.environ["METRICS_TOKEN"]
        scraped = await http.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
        expect(
            scraped.status_code == 200 and "comptoir_http_requests_total" in scraped.text,
            "replica /metrics with METRICS_TOKEN",
        )
        expect((await http.get("/metrics")).status_code == 401, "/metrics refused without it")
    if args.proxy_ws:
        async with connect(f"{args.proxy_ws}/?token={token}") as ws:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        expect(frame.get("type") == "ready", "chat WebSocket through the proxy")


if __name__ == "__main__":
    asyncio.run(main())
