"""GraphQL chat subscriptions over graphql-transport-ws, with a raw client.

Messages arrive from every door (here REST and GraphQL POSTs); ``after``
replays stored messages before live ones with no gap and no duplicate; no
subscription without a valid token.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from core import runtime
from tests.conftest import Account, GraphQL, MakeAccount, data_of
from tests.harness import Service
from tests.helpers import (
    PROTOCOL,
    ROOM_MESSAGES,
    Client,
    make_room,
    rest_post,
    subscribe_live,
    ws_client,
    ws_url,
)

DIRECT_MESSAGES = """
subscription ($after: ID) {
  directMessages(after: $after) { id content fromUser { id } toUser { id } }
}
"""
SEND_MESSAGE = """
mutation ($room: String!, $content: String!) {
  sendMessage(room: $room, content: $content) { id }
}
"""


async def dm_live(
    http: httpx.AsyncClient, herald: Account, clients: list[tuple[Client, Account]]
) -> None:
    """Subscribe each client to its user's DMs, live (as subscribe_live does,
    with one marker DM from ``herald`` per user)."""
    markers: dict[int, int] = {}
    for _client, who in clients:
        if who.id not in markers:
            response = await http.post(
                f"/chat/dm/{who.id}", json={"content": "marker"}, headers=herald.headers
            )
            markers[who.id] = response.json()["id"]
    for client, who in clients:
        await client.subscribe("dm", DIRECT_MESSAGES, {"after": str(markers[who.id] - 1)})
        assert (await client.next_data("dm"))["directMessages"]["id"] == str(markers[who.id])


# --- delivery ----------------------------------------------------------------


async def test_rest_post_reaches_a_graphql_subscriber(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    room_id = await make_room(http, alice, "general")
    async with ws_client(service, alice.token) as client:
        await subscribe_live(http, client, "1", alice, "general")

        message_id = await rest_post(http, bob, "general", "<b>salut</b> '; --")

        data = (await client.next_data("1"))["roomMessages"]
    assert data["id"] == str(message_id)
    assert data["content"] == "<b>salut</b> '; --"
    assert data["clientId"] is None
    assert data["room"] == {"id": str(room_id), "name": "general"}
    assert data["author"]["id"] == str(bob.id)
    assert data["author"]["email"] == ""  # another user's address stays hidden


async def test_graphql_send_reaches_a_subscriber_by_room_id(
    service: Service, http: httpx.AsyncClient, graphql: GraphQL, member: Account
) -> None:
    room_id = await make_room(http, member, "general")
    async with ws_client(service, member.token) as client:
        await subscribe_live(http, client, "s", member, room_id)

        sent = data_of(
            await graphql(SEND_MESSAGE, {"room": "general", "content": "hi"}, token=member.token)
        )

        data = (await client.next_data("s"))["roomMessages"]
    assert data["id"] == sent["sendMessage"]["id"]
    assert data["author"]["email"] == member.email


async def test_a_subscriber_only_receives_its_room(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    await make_room(http, member, "general")
    await make_room(http, member, "random")
    async with ws_client(service, member.token) as client:
        await client.subscribe("1", ROOM_MESSAGES, {"room": "general"})
        # Without `after` nothing is replayed: probe until the subscription is live.
        probes = set()
        while True:
            probes.add(str(await rest_post(http, member, "general", "probe")))
            try:
                first = (await client.next_data("1", timeout=0.2))["roomMessages"]["id"]
                break
            except TimeoutError:
                continue
        elsewhere = await rest_post(http, member, "random", "elsewhere")
        here = await rest_post(http, member, "general", "here")

        received = [first]
        while received[-1] != str(here):
            received.append((await client.next_data("1"))["roomMessages"]["id"])
    assert set(received[:-1]) <= probes
    assert str(elsewhere) not in received


async def test_after_replays_stored_messages_then_goes_live(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    await make_room(http, member, "general")
    ids = [await rest_post(http, member, "general", f"m{n}") for n in range(4)]
    async with ws_client(service, member.token) as client:
        await client.subscribe("1", ROOM_MESSAGES, {"room": "general", "after": str(ids[1])})
        replayed = [(await client.next_data("1"))["roomMessages"]["id"] for _ in range(2)]

        live = await rest_post(http, member, "general", "live")

        received = (await client.next_data("1"))["roomMessages"]["id"]
        assert await client.nothing_within(0.3)
    assert replayed == [str(ids[2]), str(ids[3])]
    assert received == str(live)


async def test_after_with_concurrent_sends_has_no_gap_and_no_duplicate(
    service: Service, http: httpx.AsyncClient, member: Account, roomy: None
) -> None:
    await make_room(http, member, "general")
    before = [await rest_post(http, member, "general", f"old{n}") for n in range(20)]
    total = 60

    async def keep_sending() -> list[int]:
        return [await rest_post(http, member, "general", f"new{n}") for n in range(total - 20)]

    async with ws_client(service, member.token) as client:
        sender = asyncio.create_task(keep_sending())
        await asyncio.sleep(0.01)
        await client.subscribe("1", ROOM_MESSAGES, {"room": "general", "after": "0"})
        received = [(await client.next_data("1"))["roomMessages"]["id"] for _ in range(total)]
        sent = await sender
        assert await client.nothing_within(0.3)
    assert received == [str(i) for i in before + sent]


async def test_direct_messages_reach_every_connection_of_both_parties_only(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob, eve = await make_account(), await make_account(), await make_account()
    herald = await make_account()
    async with (
        ws_client(service, alice.token) as a,
        ws_client(service, bob.token) as b,
        ws_client(service, bob.token) as b2,
        ws_client(service, eve.token) as e,
    ):
        await dm_live(http, herald, [(a, alice), (b, bob), (b2, bob), (e, eve)])

        response = await http.post(
            f"/chat/dm/{bob.id}", json={"content": "psst"}, headers=alice.headers
        )

        expected = {
            "id": str(response.json()["id"]),
            "content": "psst",
            "fromUser": {"id": str(alice.id)},
            "toUser": {"id": str(bob.id)},
        }
        assert (await a.next_data("dm"))["directMessages"] == expected
        assert (await b.next_data("dm"))["directMessages"] == expected
        assert (await b2.next_data("dm"))["directMessages"] == expected
        assert await e.nothing_within(0.3)


async def test_direct_messages_after_replays_the_callers_dms(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob, eve = await make_account(), await make_account(), await make_account()
    ids = []
    for sender, to in [(alice, bob), (eve, bob), (bob, alice), (eve, alice)]:
        response = await http.post(
            f"/chat/dm/{to.id}", json={"content": "x"}, headers=sender.headers
        )
        ids.append(response.json()["id"])

    async with ws_client(service, alice.token) as client:
        await client.subscribe("dm", DIRECT_MESSAGES, {"after": str(ids[0])})
        replayed = [(await client.next_data("dm"))["directMessages"]["id"] for _ in range(2)]
        assert await client.nothing_within(0.3)
    assert replayed == [str(ids[2]), str(ids[3])]


# --- access ------------------------------------------------------------------


async def subscription_error(client: Client, op_id: str) -> list[str]:
    """The error codes that end an operation: an ``error`` message, or a
    ``next`` carrying errors followed by ``complete``."""
    codes: list[str] = []
    while True:
        message = await client.receive()
        assert message["id"] == op_id, message
        if message["type"] == "error":
            return [e["extensions"]["code"] for e in message["payload"]]
        if message["type"] == "complete":
            return codes
        assert message["type"] == "next", message
        assert message["payload"].get("errors"), message
        codes += [e["extensions"]["code"] for e in message["payload"]["errors"]]


@pytest.mark.checklist(1, "graphql")
async def test_private_room_subscription_is_not_found_for_outsiders(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    owner, outsider = await make_account(), await make_account()
    room_id = await make_room(http, owner, "secret", private=True)

    async with ws_client(service, outsider.token) as client:
        await client.subscribe("1", ROOM_MESSAGES, {"room": "secret"})
        by_name = await subscription_error(client, "1")
        await client.subscribe("2", ROOM_MESSAGES, {"room": str(room_id)})
        by_id = await subscription_error(client, "2")
        await client.subscribe("3", ROOM_MESSAGES, {"room": "nowhere"})
        missing = await subscription_error(client, "3")
        await rest_post(http, owner, "secret", "hidden")
        assert await client.nothing_within(0.3)

    assert by_name == by_id == missing == ["NOT_FOUND"]


async def test_bad_after_is_bad_user_input(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    await make_room(http, member, "general")

    async with ws_client(service, member.token) as client:
        await client.subscribe("1", ROOM_MESSAGES, {"room": "general", "after": "-1"})
        room_codes = await subscription_error(client, "1")
        await client.subscribe("2", DIRECT_MESSAGES, {"after": "abc"})
        dm_codes = await subscription_error(client, "2")

    assert room_codes == dm_codes == ["BAD_USER_INPUT"]


async def test_logout_ends_the_sessions_subscriptions(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    async with ws_client(service, alice.token) as client:
        await subscribe_live(http, client, "room", alice, "general")
        await client.subscribe("dm", DIRECT_MESSAGES, {})

        response = await http.post("/logout", json={"refresh_token": alice.refresh_token})
        assert response.status_code == 204

        ended: dict[str, list[str]] = {}
        completed: set[str] = set()
        while completed != {"room", "dm"}:
            message = await client.receive()
            if message["type"] == "complete":
                completed.add(message["id"])
            else:
                errors = message["payload"]["errors"]
                ended[message["id"]] = [e["extensions"]["code"] for e in errors]
        assert ended == {"room": ["UNAUTHENTICATED"], "dm": ["UNAUTHENTICATED"]}
        await rest_post(http, bob, "general", "after logout")
        assert await client.nothing_within(0.3)


async def test_subscriptions_end_when_the_token_expires(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    await make_room(http, member, "general")
    tokens = runtime.get().tokens
    claims = tokens.decode(member.token)
    # Long enough left for subscribe, post and delivery even on a loaded
    # machine (2 s failed at load 10), short enough to wait for the expiry.
    almost_expired = tokens.issue(
        member.id, claims.session_id, now=datetime.now(UTC) - timedelta(seconds=tokens.ttl - 5)
    )
    async with ws_client(service, almost_expired) as client:
        await subscribe_live(http, client, "1", member, "general")
        message_id = await rest_post(http, member, "general", "still valid")
        assert (await client.next_data("1"))["roomMessages"]["id"] == str(message_id)

        assert await subscription_error(client, "1") == ["UNAUTHENTICATED"]
        await client.subscribe("2", ROOM_MESSAGES, {"room": "general"})
        assert await subscription_error(client, "2") == ["UNAUTHENTICATED"]


async def close_code(client: Client) -> int | None:
    try:
        while True:
            await client.receive()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


@pytest.mark.parametrize("token", [None, "not-a-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."])
async def test_connection_init_without_a_valid_token_closes_4403(
    service: Service, member: Account, token: str | None
) -> None:
    async with ws_client(service, None, init=False) as client:
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await client.send({"type": "connection_init", "payload": payload})

        assert await close_code(client) == 4403


async def test_subscribe_before_init_closes_4401(service: Service, member: Account) -> None:
    async with ws_client(service, None, init=False) as client:
        await client.subscribe("1", ROOM_MESSAGES, {"room": "general"})

        assert await close_code(client) == 4401


async def test_token_in_the_handshake_header_is_accepted(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    await make_room(http, member, "general")
    async with connect(
        ws_url(service),
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {member.token}"},
    ) as conn:
        client = Client(conn)
        await client.send({"type": "connection_init", "payload": {}})
        assert (await client.receive())["type"] == "connection_ack"
        await subscribe_live(http, client, "1", member, "general")

        message_id = await rest_post(http, member, "general", "hello")

        assert (await client.next_data("1"))["roomMessages"]["id"] == str(message_id)


async def test_the_older_graphql_ws_protocol_is_not_spoken(service: Service) -> None:
    async with connect(ws_url(service), subprotocols=["graphql-ws"]) as conn:  # type: ignore[list-item]
        assert await close_code(Client(conn)) == 4406


async def _first_error(client: Client, op_id: str) -> dict[str, Any]:
    """The first error that ends an operation (code and message)."""
    while True:
        message = await client.receive()
        assert message["id"] == op_id, message
        if message["type"] == "error":
            error: dict[str, Any] = message["payload"][0]
            return error
        assert message["type"] == "next", message
        errors = message["payload"].get("errors")
        if errors:
            first: dict[str, Any] = errors[0]
            return first


async def test_after_takes_the_cursors_that_queries_return(
    service: Service, http: httpx.AsyncClient, member: Account, graphql: GraphQL
) -> None:
    """Issue 12: a client pages history with roomMessages, then subscribes
    from the last cursor it holds: the same ``after`` on both."""
    await make_room(http, member, "general")
    ids = [await rest_post(http, member, "general", f"m{n}") for n in range(4)]
    page = data_of(
        await graphql(
            'query { roomMessages(room: "general", first: 2) { edges { cursor node { id } } } }',
            token=member.token,
        )
    )["roomMessages"]["edges"]
    assert [e["node"]["id"] for e in page] == [str(ids[0]), str(ids[1])]
    async with ws_client(service, member.token) as client:
        await client.subscribe("1", ROOM_MESSAGES, {"room": "general", "after": page[-1]["cursor"]})
        replayed = [(await client.next_data("1"))["roomMessages"]["id"] for _ in range(2)]
        assert await client.nothing_within(0.3)
    assert replayed == [str(ids[2]), str(ids[3])]


async def test_a_negative_after_is_refused_as_negative(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    """Issue 12: ``after: -1`` says what is wrong with it, not "must be an integer"."""
    await make_room(http, member, "general")
    async with ws_client(service, member.token) as client:
        await client.subscribe("1", ROOM_MESSAGES, {"room": "general", "after": "-1"})
        room_error = await _first_error(client, "1")
        await client.subscribe("2", DIRECT_MESSAGES, {"after": "-5"})
        dm_error = await _first_error(client, "2")
        await client.subscribe("3", DIRECT_MESSAGES, {"after": "Yzp4"})  # "c:x": not a cursor
        bad_cursor = await _first_error(client, "3")
    for error in (room_error, dm_error):
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["message"] == "after must not be negative.", error
    assert bad_cursor["extensions"]["code"] == "BAD_USER_INPUT", bad_cursor
    assert bad_cursor["message"] == "after is not a valid cursor.", bad_cursor
