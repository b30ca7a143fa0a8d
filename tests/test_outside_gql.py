"""A client written outside the project: ``gql`` (PyPI) over HTTP and over
graphql-transport-ws, as a Python frontend would use Comptoir."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from gql.transport.websockets_protocol import WebsocketsProtocolTransportBase
from websockets.exceptions import ConnectionClosed

from tests.conftest import Account, MakeAccount
from tests.harness import Service

TIMEOUT = 10
SUBPROTOCOL = WebsocketsProtocolTransportBase.GRAPHQLWS_SUBPROTOCOL
ROOM_MESSAGES = GraphQLRequest(
    """
    subscription ($room: String!, $after: ID) {
      roomMessages(room: $room, after: $after) { id content author { id } room { name } }
    }
    """
)
SEND_MESSAGE = GraphQLRequest(
    """
    mutation ($room: String!, $content: String!) {
      sendMessage(room: $room, content: $content) { id content }
    }
    """
)


def ws_url(service: Service) -> str:
    return service.http_url.replace("http://", "ws://", 1) + "/graphql"


def http_client(service: Service, account: Account) -> Client:
    transport = HTTPXAsyncTransport(url=service.http_url + "/graphql", headers=account.headers)
    return Client(transport=transport, fetch_schema_from_transport=False)


def ws_client(service: Service, init_payload: dict[str, Any] | None) -> Client:
    transport = WebsocketsTransport(
        url=ws_url(service),
        init_payload=init_payload,
        subprotocols=[SUBPROTOCOL],
        connect_timeout=TIMEOUT,
        ack_timeout=TIMEOUT,
    )
    return Client(transport=transport, fetch_schema_from_transport=False)


async def send(service: Service, account: Account, room: str, content: str) -> dict[str, Any]:
    async with http_client(service, account) as session:
        request = GraphQLRequest(SEND_MESSAGE, variable_values={"room": room, "content": content})
        result: dict[str, Any] = (await session.execute(request))["sendMessage"]
        return result


async def test_gql_client_queries_and_mutates_over_http(
    service: Service, make_account: MakeAccount
) -> None:
    admin = await make_account(admin=True)
    async with http_client(service, admin) as session:
        created = await session.execute(
            GraphQLRequest(
                'mutation { createProduct(input: {name: "Mug", price: "12.50"}) { id price } }'
            )
        )
        assert created["createProduct"]["price"] == "12.50"
        listed = await session.execute(GraphQLRequest("{ products { totalCount } }"))
        assert listed["products"]["totalCount"] == 1
        # A refused operation comes back as gql's error with the contract's code.
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(GraphQLRequest("{ products { nope } }"))
        assert refused.value.errors
        assert refused.value.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_gql_client_subscribes_over_graphql_transport_ws(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice = await make_account()
    created = await http.post(
        "/chat/rooms", json={"name": "outside", "is_private": False}, headers=alice.headers
    )
    assert created.status_code == 201, created.text
    stored = [await send(service, alice, "outside", f"stored {i}") for i in range(2)]

    received: list[dict[str, Any]] = []
    replayed = asyncio.Event()

    async def listen() -> None:
        client = ws_client(service, {"Authorization": f"Bearer {alice.token}"})
        async with client as session:
            request = GraphQLRequest(
                ROOM_MESSAGES, variable_values={"room": "outside", "after": "0"}
            )
            async for result in session.subscribe(request):
                received.append(result["roomMessages"])
                if len(received) == len(stored):
                    replayed.set()
                if len(received) == len(stored) + 1:
                    return

    listener = asyncio.create_task(listen())
    try:
        # The stored messages replay first; then a live one arrives.
        await asyncio.wait_for(replayed.wait(), TIMEOUT)
        live = await send(service, alice, "outside", "live")
        await asyncio.wait_for(listener, TIMEOUT)
    finally:
        listener.cancel()
    assert [m["id"] for m in received] == [m["id"] for m in stored] + [live["id"]]
    assert [m["content"] for m in received] == ["stored 0", "stored 1", "live"]
    assert {m["room"]["name"] for m in received} == {"outside"}
    assert {m["author"]["id"] for m in received} == {str(alice.id)}


async def test_gql_client_without_a_token_cannot_subscribe(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice = await make_account()
    await http.post("/chat/rooms", json={"name": "closed"}, headers=alice.headers)
    for payload in (None, {"Authorization": "Bearer not-a-token"}):
        with pytest.raises(TransportConnectionFailed) as refused:
            await first_message(ws_client(service, payload), "closed")
        assert close_code(refused.value) == 4403


async def first_message(client: Client, room: str) -> dict[str, Any]:
    async with client as session:
        request = GraphQLRequest(ROOM_MESSAGES, variable_values={"room": room})
        async for result in session.subscribe(request):
            return dict(result)
    raise AssertionError("the subscription ended without a message")


def close_code(error: BaseException) -> int | None:
    """The close code the server sent, found in the exception's causes."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionClosed) and seen.rcvd is not None:
            return seen.rcvd.code
        seen = seen.__cause__ or seen.__context__
    return None
