"""Operations over a graphql-transport-ws connection live no longer than its session."""

from __future__ import annotations

import httpx

from tests.authz_world import subscriber
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
