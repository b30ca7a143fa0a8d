"""Issue 11, finding 13: deactivating a user ends everything they hold, on
every door and across processes; a deleted user's frames are no server error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from models import User
from tests.account_helpers import bearer, logged_in, new_account
from tests.authz_world import subscriber
from tests.conftest import PASSWORD, Account, MakeAccount, error_codes
from tests.harness import Service
from tests.process_helpers import two_processes
from tests.ws_helpers import chat_client, close_code, open_ws, recv, request

DEACTIVATE = "mutation ($id: ID!) { deactivateUser(id: $id) }"
# The issue asks for "within a second"; the close handshake is on top.
WITHIN = 1.0

Deactivate = Callable[[httpx.AsyncClient, Account, int], Awaitable[None]]


async def _by_graphql(http: httpx.AsyncClient, admin: Account, user_id: int) -> None:
    response = await http.post(
        "/graphql",
        json={"query": DEACTIVATE, "variables": {"id": str(user_id)}},
        headers=admin.headers,
    )
    assert response.json() == {"data": {"deactivateUser": True}}


async def _by_rest(http: httpx.AsyncClient, admin: Account, user_id: int) -> None:
    response = await http.post(f"/users/{user_id}/deactivate", headers=admin.headers)
    assert response.status_code == 204, response.text


async def _ended_within(aw: Awaitable[Any], seconds: float) -> Any:
    started = time.monotonic()
    result = await asyncio.wait_for(aw, seconds + 2)
    assert time.monotonic() - started <= seconds + 0.5
    return result


@pytest.mark.parametrize("door", [_by_graphql, _by_rest], ids=["graphql", "rest"])
async def test_deactivation_ends_every_session_and_connection(
    service: Service,
    http: httpx.AsyncClient,
    admin: Account,
    make_account: MakeAccount,
    door: Deactivate,
) -> None:
    victim = await make_account()
    second = await http.post("/login", json={"email": victim.email, "password": PASSWORD})
    second_token = second.json()["access_token"]
    async with (
        subscriber(service) as sub,
        chat_client(service.ws_url, victim.token) as ws_one,
        chat_client(service.ws_url, second_token) as ws_two,
    ):
        await sub.send({"type": "connection_init", "payload": victim.headers})
        assert (await sub.receive())["type"] == "connection_ack"
        query = "subscription { directMessages { id } }"
        await sub.send({"id": "1", "type": "subscribe", "payload": {"query": query}})
        await asyncio.sleep(0.2)

        await door(http, admin, victim.id)

        # Both chat connections (two sessions) close with 4001, and the
        # subscription ends, within a second.
        codes = await _ended_within(asyncio.gather(close_code(ws_one), close_code(ws_two)), WITHIN)
        assert codes == [4001, 4001]
        ended = await sub.receive()
        errors = ended["payload"] if ended["type"] == "error" else ended["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["UNAUTHENTICATED"]
    # Every token is dead, and the password no longer opens anything.
    for token in (victim.token, second_token):
        assert (await http.get("/me", headers=bearer(token))).status_code == 401
    refreshed = await http.post("/refresh", json={"refresh_token": victim.refresh_token})
    assert refreshed.status_code == 401
    login = await http.post("/login", json={"email": victim.email, "password": PASSWORD})
    assert login.status_code == 401
    # Others are untouched.
    assert (await http.get("/me", headers=admin.headers)).status_code == 200


async def test_deactivation_by_a_chat_frame(
    service: Service, http: httpx.AsyncClient, admin: Account, make_account: MakeAccount
) -> None:
    victim = await make_account()
    async with (
        chat_client(service.ws_url, admin.token) as console,
        chat_client(service.ws_url, victim.token) as doomed,
    ):
        reply = await request(console, {"type": "deactivate_user", "user": victim.id})
        assert reply == {"type": "user_deactivated", "user": victim.id, "ref": reply["ref"]}
        assert await _ended_within(close_code(doomed), WITHIN) == 4001
        # The admin's own connection goes on.
        again = await request(console, {"type": "deactivate_user", "user": 999_999})
        assert (again["type"], again["code"]) == ("error", "NOT_FOUND")
        itself = await request(console, {"type": "deactivate_user", "user": admin.id})
        assert (itself["type"], itself["code"], itself["field"]) == (
            "error",
            "BAD_USER_INPUT",
            "user",
        )
    assert (await http.get("/me", headers=victim.headers)).status_code == 401


async def test_deactivation_refusals_on_rest_and_graphql(
    http: httpx.AsyncClient, admin: Account, member: Account
) -> None:
    url = f"/users/{admin.id}/deactivate"
    assert (await http.post(url)).status_code == 401
    refused = await http.post(url, headers=member.headers)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "FORBIDDEN")
    missing = await http.post("/users/999999/deactivate", headers=admin.headers)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
    for bad in ("abc", "0", "99999999999"):
        response = await http.post(f"/users/{bad}/deactivate", headers=admin.headers)
        assert response.status_code == 422, bad
    own = await http.post(url, headers=admin.headers)
    assert (own.status_code, own.json()["error"]["field"]) == (422, "user_id")

    async def gql(token: str | None, user_id: str) -> list[str]:
        headers = bearer(token) if token else {}
        response = await http.post(
            "/graphql", json={"query": DEACTIVATE, "variables": {"id": user_id}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return error_codes(body)

    assert await gql(None, str(member.id)) == ["UNAUTHENTICATED"]
    assert await gql(member.token, str(admin.id)) == ["FORBIDDEN"]
    assert await gql(admin.token, "999999") == ["NOT_FOUND"]
    assert await gql(admin.token, "x") == ["BAD_USER_INPUT"]
    # Nothing was deactivated by the refusals.
    assert (await http.get("/me", headers=member.headers)).status_code == 200


async def test_a_deleted_users_frames_are_never_a_server_error(
    service: Service, http: httpx.AsyncClient, admin: Account, make_account: MakeAccount
) -> None:
    room = await http.post("/chat/rooms", json={"name": "lobby"}, headers=admin.headers)
    assert room.status_code == 201, room.text
    writes: list[dict[str, Any]] = [
        {"type": "message", "room": "lobby", "content": "still here?"},
        {"type": "dm", "to": admin.id, "content": "still here?"},
    ]
    reads: list[dict[str, Any]] = [
        {"type": "join", "room": "lobby"},
        {"type": "room_history", "room": "lobby"},
        {"type": "dm_history", "with": admin.id},
        {"type": "auth", "token": admin.token},
        {"type": "deactivate_user", "user": admin.id},
    ]
    for frame in writes:
        ghost = await make_account()
        async with chat_client(service.ws_url, ghost.token) as ws:
            # Deleted outside every door (an operator's SQL): sessions go with it.
            await User.filter(id=ghost.id).delete()
            reply = await request(ws, frame)
            assert (reply["type"], reply.get("code")) == ("error", "UNAUTHENTICATED"), frame
            assert await close_code(ws) == 4001
    ghost = await make_account()
    async with chat_client(service.ws_url, ghost.token) as ws:
        await User.filter(id=ghost.id).delete()
        for frame in reads:
            reply = await request(ws, frame)
            assert reply.get("code") != "INTERNAL_SERVER_ERROR", (frame, reply)
    # Nothing was stored in the ghosts' names.
    history = await http.get("/chat/rooms/lobby/messages", headers=admin.headers)
    assert history.json() == []


@pytest.mark.slow
async def test_deactivation_ends_connections_on_another_process(tmp_path: Path) -> None:
    """On PostgreSQL + Redis (as the scale-out test), whatever the suite runs on."""
    async with two_processes(tmp_path, "deact", admins=["boss@example.com"]) as pair:
        two, http1, http2 = pair.two, pair.http1, pair.http2
        boss = await logged_in(http1, "boss@example.com")
        victim = await new_account(http2, "victim@example.com")
        doomed = await open_ws(two.ws_url, victim.token)
        assert (await recv(doomed))["type"] == "ready"
        response = await http1.post(f"/users/{victim.id}/deactivate", headers=boss.headers)
        assert response.status_code == 204
        assert await _ended_within(close_code(doomed), WITHIN) == 4001
        me = await http2.get("/me", headers=victim.headers)
        assert me.status_code == 401
