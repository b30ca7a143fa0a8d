"""The real-time doors' instruments: WebSocket gauges and counters, pub/sub
lag, and one log line per chat connection open and close."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from tests.conftest import MakeAccount
from tests.harness import Service
from tests.helpers import make_room, rest_post, scrape, subscribe_live, value, ws_client
from tests.ws_helpers import chat_client, create_room, join, recv_until, say

CHAT = {"server": "chat"}


async def test_chat_connections_frames_deliveries_and_lag(
    service: Service,
    http: httpx.AsyncClient,
    make_account: MakeAccount,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="comptoir.ws")
    alice, bob = await make_account(), await make_account()
    await create_room(http, alice, "metrics-room")
    before = await scrape(http)
    async with (
        chat_client(service.ws_url, alice.token) as a,
        chat_client(service.ws_url, bob.token) as b,
    ):
        await join(a, "metrics-room")
        await join(b, "metrics-room")
        during = await scrape(http)
        await say(a, "counted", room="metrics-room")
        message, _ = await recv_until(b, "message")
        assert message["content"] == "counted"
    after = await scrape(http)

    connections = "comptoir_ws_connections"
    assert value(during, connections, **CHAT) == value(before, connections, **CHAT) + 2
    # Each holds its own channel and the room.
    subscriptions = "comptoir_ws_subscriptions"
    assert value(during, subscriptions, **CHAT) >= value(before, subscriptions, **CHAT) + 4
    frames = "comptoir_ws_frames_total"
    # 2 joins and 1 message in; replies and the delivered message out.
    assert value(after, frames, **CHAT, direction="in") >= (
        value(before, frames, **CHAT, direction="in") + 3
    )
    assert value(after, frames, **CHAT, direction="out") >= (
        value(before, frames, **CHAT, direction="out") + 4
    )
    deliveries = "comptoir_ws_deliveries_total"
    assert value(after, deliveries, **CHAT) >= value(before, deliveries, **CHAT) + 2
    lag = "comptoir_pubsub_lag_seconds_count"
    assert value(after, lag) > value(before, lag)

    closes = [f"chat connection close: user {a.id} code=1000" for a in (alice, bob)]
    for _ in range(50):  # the server ends each connection after the client's close
        lines = [r.getMessage() for r in caplog.records if r.name == "comptoir.ws"]
        if all(close in lines for close in closes):
            break
        await asyncio.sleep(0.05)
    for account in (alice, bob):
        assert f"chat connection open: user {account.id}" in lines
        assert f"chat connection close: user {account.id} code=1000" in lines


async def test_graphql_subscription_gauges_frames_and_deliveries(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    owner = await make_account()
    room = await make_room(http, owner, "metrics-sub")
    gql = {"server": "graphql"}
    before = await scrape(http)
    async with ws_client(service, owner.token) as client:
        await subscribe_live(http, client, "s1", owner, room)
        during = await scrape(http)
        await rest_post(http, owner, room, "delivered")
        assert (await client.next_data("s1"))["roomMessages"]["content"] == "delivered"
        await client.send({"id": "s1", "type": "complete"})
    after = await scrape(http)

    connections, subscriptions = "comptoir_ws_connections", "comptoir_ws_subscriptions"
    assert value(during, connections, **gql) == value(before, connections, **gql) + 1
    assert value(during, subscriptions, **gql) == value(before, subscriptions, **gql) + 1
    for _ in range(50):  # the server ends the connection after the client's close
        if value(after, connections, **gql) == value(before, connections, **gql):
            break
        await asyncio.sleep(0.05)
        after = await scrape(http)
    assert value(after, connections, **gql) == value(before, connections, **gql)
    frames, deliveries = "comptoir_ws_frames_total", "comptoir_ws_deliveries_total"
    # connection_init, subscribe, complete in; ack and two `next` out.
    assert value(after, frames, **gql, direction="in") >= (
        value(before, frames, **gql, direction="in") + 3
    )
    assert value(after, frames, **gql, direction="out") >= (
        value(before, frames, **gql, direction="out") + 3
    )
    assert value(after, deliveries, **gql) >= value(before, deliveries, **gql) + 1
