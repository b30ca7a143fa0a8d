"""Rooms over the WebSocket server: join, messages, history, replay."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from resolvers import limits
from tests.conftest import Account, MakeAccount
from tests.harness import Service
from tests.ws_helpers import (
    chat_client,
    create_room,
    join,
    recv,
    recv_until,
    recv_until_joined,
    request,
    rest_history,
    say,
    send,
    silence,
)
from ws import handlers

# --- rooms and messages ------------------------------------------------------------


async def test_a_message_reaches_every_joined_connection_and_the_sender_gets_an_ack(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob, carol = [await make_account() for _ in range(3)]
    room = await create_room(http, alice)
    async with (
        chat_client(service.ws_url, alice.token) as a,
        chat_client(service.ws_url, bob.token) as b,
        chat_client(service.ws_url, carol.token) as c,
    ):
        joined = await join(a, "general")
        assert joined == {
            "type": "joined",
            "room": "general",
            "room_id": room["id"],
            "ref": joined["ref"],
        }
        assert (await join(b, room["id"]))["room"] == "general"  # by id too
        await send(a, {"type": "message", "room": "general", "content": "salut", "ref": "m1"})
        ack, before = await recv_until(a, "ack")
        live = [f for f in before if f["type"] == "message"] or [await recv(a)]
        assert ack["ref"] == "m1"
        assert isinstance(ack["id"], int)
        assert ack["timestamp"]
        expected = {
            "type": "message",
            "id": ack["id"],
            "room": "general",
            "room_id": room["id"],
            "from_user": alice.id,
            "content": "salut",
            "timestamp": ack["timestamp"],
            "client_id": None,
        }
        assert live == [expected]
        assert await recv(b) == expected
        await silence(c)  # connected, but not in the room


async def test_a_message_without_ref_gets_no_ack(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    await create_room(http, member)
    async with chat_client(service.ws_url, member.token) as ws:
        await join(ws, "general")
        await send(ws, {"type": "message", "room": "general", "content": "no ref"})
        assert (await recv(ws))["type"] == "message"
        await silence(ws)


async def test_content_is_validated_and_comes_back_byte_for_byte(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    await create_room(http, member)
    tricky = "<script>alert(1)</script> '; DROP TABLE messages; -- \u00e9\U0001f642 \\u0000"
    async with chat_client(service.ws_url, member.token) as ws:
        await join(ws, "general")
        for bad in ("", "x" * (limits.CONTENT_MAX + 1), "nul\x00byte"):
            reply = await request(ws, {"type": "message", "room": "general", "content": bad})
            assert reply["code"] == "BAD_USER_INPUT", reply
        await say(ws, tricky)
        assert (await recv(ws))["content"] == tricky
    assert (await rest_history(http, member))[-1]["content"] == tricky


async def test_authorship_and_ids_in_a_frame_are_ignored(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await create_room(http, alice)
    async with chat_client(service.ws_url, alice.token) as a:
        await join(a, "general")
        forged = {"from_user": bob.id, "id": 999, "timestamp": "2000-01-01T00:00:00+00:00"}
        ack = await request(a, {"type": "message", "room": "general", "content": "mine", **forged})
        live = await recv(a)
        assert live["id"] == ack["id"] != 999
        assert live["from_user"] == alice.id
        assert live["timestamp"] == ack["timestamp"] != forged["timestamp"]
        dm = await request(a, {"type": "dm", "to": bob.id, "content": "x", "from_user": bob.id})
        assert (await recv(a))["from_user"] == alice.id
        assert dm["type"] == "ack"
    assert [m["from_user"] for m in await rest_history(http, bob)] == [alice.id]


async def test_one_subscription_per_room_per_process_dropped_with_the_last_member(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """Observed on the running server's hub: connections share one
    subscription per room, and the last to leave ends it."""
    hub = service.app.state.chat.hub
    accounts = [await make_account() for _ in range(3)]
    room = await create_room(http, accounts[0])
    channel = f"room:{room['id']}"
    async with (
        chat_client(service.ws_url, accounts[0].token) as a,
        chat_client(service.ws_url, accounts[1].token) as b,
        chat_client(service.ws_url, accounts[2].token) as c,
    ):
        for ws in (a, b, c):
            await join(ws, "general")
        await join(a, "general")  # joining twice changes nothing
        assert hub.members(channel) == 3
        await c.close()
        await b.close()
        for _ in range(50):
            if hub.members(channel) == 1:
                break
            await asyncio.sleep(0.02)
        assert hub.members(channel) == 1
        await say(a, "still here")
        assert (await recv(a))["content"] == "still here"
    mine = {channel, *(f"user:{account.id}" for account in accounts)}
    for _ in range(100):
        if not mine & hub.channels:
            break
        await asyncio.sleep(0.02)
    assert not mine & hub.channels


async def test_a_connection_joins_a_bounded_number_of_rooms(
    service: Service,
    http: httpx.AsyncClient,
    member: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handlers, "MAX_ROOMS_PER_CONNECTION", 2)
    for name in ("one", "two", "three"):
        await create_room(http, member, name)
    async with chat_client(service.ws_url, member.token) as ws:
        await join(ws, "one")
        await join(ws, "two")
        await join(ws, "one")  # already joined: fine
        reply = await request(ws, {"type": "join", "room": "three"})
        assert reply["code"] == "BAD_USER_INPUT"
        assert reply["field"] == "room"


@pytest.mark.checklist(1, "ws")
@pytest.mark.checklist(2, "ws")
async def test_a_private_room_is_not_found_to_non_members_on_every_frame(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    owner, outsider = await make_account(), await make_account()
    room = await create_room(http, owner, "secret", private=True)
    async with (
        chat_client(service.ws_url, owner.token) as inside,
        chat_client(service.ws_url, outsider.token) as outside,
    ):
        await join(inside, "secret")
        for target in ("secret", room["id"], "no-such-room", 999_999):
            for frame in (
                {"type": "join", "room": target},
                {"type": "join", "room": target, "after": 0},
                {"type": "message", "room": target, "content": "hi"},
                {"type": "room_history", "room": target},
            ):
                reply = await request(outside, dict(frame))
                assert reply["type"] == "error", (frame, reply)
                assert reply["code"] == "NOT_FOUND", (frame, reply)
                assert reply["message"] == "Room not found.", reply
        await say(inside, "members only", room="secret")
        assert (await recv(inside))["content"] == "members only"
        await silence(outside)


async def test_room_history_is_the_last_50_oldest_first_then_pages_back(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    writers = [await make_account() for _ in range(2)]  # 30 messages/10 s each
    await create_room(http, writers[0])
    ids: list[int] = []
    async with (
        chat_client(service.ws_url, writers[0].token) as w0,
        chat_client(service.ws_url, writers[1].token) as w1,
    ):
        for i in range(55):
            ids.append(await say((w0, w1)[i % 2], f"message {i}"))
        history = await request(w0, {"type": "room_history", "room": "general"})
        assert history["type"] == "room_history"
        assert history["room"] == "general"
        assert [m["id"] for m in history["messages"]] == ids[-limits.HISTORY_DEFAULT :]
        assert history["messages"][0]["content"] == "message 5"
        assert "type" not in history["messages"][0]
        assert history["has_more"] is True
        older = await request(
            w0, {"type": "room_history", "room": "general", "before": history["messages"][0]["id"]}
        )
        assert [m["id"] for m in older["messages"]] == ids[:5]
        assert older["has_more"] is False
        after = await request(
            w0, {"type": "room_history", "room": "general", "after": ids[49], "limit": 3}
        )
        assert [m["id"] for m in after["messages"]] == ids[50:53]
        # limit follows the resolvers' rule, as on REST: clamped to 100, negative refused.
        for limit, expected in ((0, []), (1000, ids), (10**12, ids)):
            page = await request(w0, {"type": "room_history", "room": "general", "limit": limit})
            assert [m["id"] for m in page["messages"]] == expected, limit
            if limit <= 1000:  # the REST door refuses query integers past int32
                rest = await rest_history(http, writers[0], limit=limit)
                assert [m["id"] for m in rest] == expected, limit
        refused = await request(w0, {"type": "room_history", "room": "general", "limit": -7})
        assert (refused["code"], refused["field"]) == ("BAD_USER_INPUT", "limit"), refused
        assert refused["message"] == "limit must not be negative."
        rest_refused = await http.get(
            "/chat/rooms/general/messages", params={"limit": -7}, headers=writers[0].headers
        )
        assert rest_refused.status_code == 422
        assert rest_refused.json()["error"]["message"] == refused["message"]
        for bad in ({"limit": "50"}, {"limit": None, "before": -1}, {"after": 2**40}):
            reply = await request(w0, {"type": "room_history", "room": "general", **bad})
            assert reply["code"] == "BAD_USER_INPUT", (bad, reply)


async def test_join_with_after_replays_then_goes_live(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await create_room(http, alice)
    async with chat_client(service.ws_url, alice.token) as a:
        ids = [await say(a, f"m{i}") for i in range(5)]
        async with chat_client(service.ws_url, bob.token) as b:
            joined, replayed = await recv_until_joined(b, after=ids[1])
            assert [m["id"] for m in replayed] == ids[2:]
            assert all(m["type"] == "message" for m in replayed)
            assert joined["room"] == "general"
            live = await say(a, "live")
            assert (await recv(b))["id"] == live
            await silence(b)
            # after=0 replays everything; a bad after is refused.
            _, everything = await recv_until_joined(b, after=0)
            assert [m["id"] for m in everything] == [*ids, live]
            reply = await request(b, {"type": "join", "room": "general", "after": -1})
            assert reply["code"] == "BAD_USER_INPUT"


async def test_join_with_after_during_traffic_misses_nothing_and_repeats_nothing(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """Messages keep coming while a client joins with `after`: what it gets,
    replay then live, is every stored message after that id, once, in order."""
    senders = [await make_account() for _ in range(3)]
    reader = await make_account()
    await create_room(http, senders[0])
    per_sender = 20
    async with chat_client(service.ws_url, senders[0].token) as first:
        start = await say(first, "before the storm")

        async def chatter(account: Account) -> None:
            async with chat_client(service.ws_url, account.token) as ws:
                for i in range(per_sender):
                    await say(ws, f"{account.id}:{i}")

        storm = [asyncio.create_task(chatter(s)) for s in senders]
        async with chat_client(service.ws_url, reader.token) as ws:
            await asyncio.sleep(0.05)  # join mid-traffic
            _, replayed = await recv_until_joined(ws, after=start)
            await asyncio.gather(*storm)
            stored = [m["id"] for m in await rest_history(http, reader, limit=100)]
            received = [m["id"] for m in replayed]
            while len(received) < len(stored) - 1:
                received.append((await recv(ws))["id"])
            await silence(ws)
    assert len(stored) == 1 + 3 * per_sender
    # Replay then live is the stored history, in commit order.
    assert received == stored[1:]
