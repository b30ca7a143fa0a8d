"""Operations over a graphql-transport-ws connection live no longer than its session."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.authz_world import Subscriber, subscriber
from tests.conftest import Account
from tests.harness import Service

ME = "query { me { id } }"


async def test_queries_over_the_socket_stop_once_the_session_logs_out(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    async with subscriber(service) as client:
        await client.send({"type": "connection_init", "payload": member.headers})
        assert (await client.receive())["type"] == "connection_ack"
        await client.send({"id": "1", "type": "subscribe", "payload": {"query": ME}})
        reply = await client.receive()
        assert reply["type"] == "next"
        assert reply["payload"]["data"] == {"me": {"id": str(member.id)}}
        assert await client.receive() == {"id": "1", "type": "complete"}

        logout = await http.post("/logout", json={"refresh_token": member.refresh_token})
        assert logout.status_code == 204
        await client.send({"id": "2", "type": "subscribe", "payload": {"query": ME}})
        reply = await client.receive()
        assert reply["id"] == "2"
        errors = reply["payload"] if reply["type"] == "error" else reply["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["UNAUTHENTICATED"]


async def _init(client: Any, account: Account) -> None:
    await client.send({"type": "connection_init", "payload": account.headers})
    assert (await client.receive())["type"] == "connection_ack"


@pytest.mark.checklist(22, "graphql")
async def test_graphql_transport_ws_protocol_errors_close_with_their_codes(
    service: Service, member: Account
) -> None:
    subscription = {"query": "subscription { directMessages { id } }"}

    async def never_init() -> int | None:
        async with subscriber(service) as client:
            try:
                await asyncio.wait_for(client.conn.recv(), 30)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
            return None

    # started first: the init timeout runs while the other cases do
    silent = asyncio.create_task(never_init())
    async with subscriber(service) as client:
        await client.send({"id": "1", "type": "subscribe", "payload": subscription})
        assert await client.close_code() == 4401
    async with subscriber(service) as client:
        await _init(client, member)
        await client.send({"type": "connection_init", "payload": member.headers})
        assert await client.close_code() == 4429
    async with subscriber(service) as client:
        await _init(client, member)
        for _ in range(2):
            await client.send({"id": "same", "type": "subscribe", "payload": subscription})
        assert await client.close_code() == 4409
    async with subscriber(service) as client:
        await client.send({"type": "connection_init", "payload": {"Authorization": "Bearer no"}})
        assert await client.close_code() == 4403
    assert await asyncio.wait_for(silent, 30) == 4408


@pytest.mark.checklist(22, "graphql")
async def test_the_older_graphql_ws_protocol_is_not_spoken(service: Service) -> None:
    url = service.http_url.replace("http://", "ws://", 1) + "/graphql"
    async with connect(url, subprotocols=["graphql-ws"]) as conn:  # type: ignore[list-item]
        assert await Subscriber(conn).close_code() == 4406


@pytest.mark.checklist(23, "graphql")
async def test_garbage_on_graphql_transport_ws_closes_with_4400_only(
    service: Service, member: Account
) -> None:
    garbage_messages = ["{nope", "[]", "5", "null", '"x"', '{"type": "subscribe"}', '{"type": 5}']
    codes = {}
    for garbage in garbage_messages:
        async with subscriber(service) as client:
            await client.send({"type": "connection_init", "payload": member.headers})
            assert (await client.receive())["type"] == "connection_ack"
            await client.conn.send(garbage)
            codes[garbage] = await client.close_code()
    assert codes == dict.fromkeys(garbage_messages, 4400)
    async with subscriber(service) as client:  # and the door still serves
        await client.send({"type": "connection_init", "payload": member.headers})
        assert (await client.receive())["type"] == "connection_ack"
