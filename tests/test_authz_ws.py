"""Authorization through the chat WebSocket (security checklist 1, 2, 4, 5).

Who may do what, frame by frame, is the matrix in ``test_authz_matrix.py``;
these follow the checklist's lines further: refusals look like missing ids,
author fields in frames are ignored, nothing leaks (``tests/authz_world.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.authz_world import World, assert_nothing_leaked
from tests.helpers import MISSING_ROOM, owner_history
from tests.ws_helpers import chat_client, recv, request, send, silence


def without_ref(frame: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in frame.items() if k != "ref"}


@pytest.mark.checklist(1, "ws")
async def test_private_room_and_others_dms_are_like_missing_ones_on_ws(world: World) -> None:
    async with chat_client(world.service.ws_url, world.other.token) as ws:
        missing = without_ref(await request(ws, {"type": "room_history", "room": MISSING_ROOM}))
        assert missing["code"] == "NOT_FOUND"
        for ref in (world.room, world.room_id):
            reply = await request(ws, {"type": "room_history", "room": ref})
            assert without_ref(reply) == missing
        for peer in (world.owner, world.admin):
            reply = await request(ws, {"type": "dm_history", "with": peer.id})
            assert reply["type"] == "dm_history"
            assert not {m["id"] for m in reply["messages"]} & set(world.dm_ids)


@pytest.mark.checklist(2, "ws")
async def test_outsiders_cannot_post_or_join_a_private_room_on_ws(world: World) -> None:
    async with chat_client(world.service.ws_url, world.other.token) as ws:
        for frame in (
            {"type": "join", "room": world.room},
            {"type": "join", "room": world.room_id, "after": 0},
            {"type": "message", "room": world.room, "content": "let me in"},
        ):
            assert (await request(ws, frame))["code"] == "NOT_FOUND"
        # a refused join subscribes to nothing
        posted = await world.http.post(
            f"/chat/rooms/{world.room}/messages",
            json={"content": "members only"},
            headers=world.owner.headers,
        )
        assert posted.status_code == 201
        await silence(ws)
    assert len(await owner_history(world)) == 2


@pytest.mark.checklist(4, "ws")
async def test_author_fields_in_frames_are_ignored_on_ws(world: World) -> None:
    async with chat_client(world.service.ws_url, world.owner.token) as ws:
        await request(ws, {"type": "join", "room": world.room})
        ack = await request(
            ws,
            {
                "type": "message",
                "room": world.room,
                "content": "mine",
                "from_user": world.admin.id,
                "id": world.message_id,
                "author_id": world.admin.id,
            },
        )
        assert ack["type"] == "ack"
        assert ack["id"] != world.message_id
        live = await recv(ws)
        assert live["from_user"] == world.owner.id
        dm_ack = await request(
            ws, {"type": "dm", "to": world.admin.id, "content": "x", "from_user": world.other.id}
        )
        assert dm_ack["type"] == "ack"
        dm = await recv(ws)
        assert (dm["from_user"], dm["to_user"]) == (world.owner.id, world.admin.id)


@pytest.mark.checklist(5, "ws")
async def test_no_hash_and_no_foreign_email_on_ws(world: World) -> None:
    async with chat_client(world.service.ws_url, world.other.token) as ws:
        await send(ws, {"type": "join", "room": "lobby"})
        for frame in (
            {"type": "dm_history", "with": world.owner.id},
            {"type": "dm", "to": world.owner.id, "content": "hello"},
            {"type": "room_history", "room": world.room},
        ):
            world.record("other", str(await request(ws, frame)))
    assert_nothing_leaked(world)
