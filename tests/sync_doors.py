"""Every action a sync-only client must learn of, on each door (REST,
GraphQL, the chat WebSocket), for ``tests/test_fault_sigkill_sync.py``.

Each :class:`Door` does the same things its own way: room messages (some
mentioning someone) and DMs sent, edited, deleted, reacted to and unreacted; a room joined and one
left; read markers moved. A server error or a dropped connection raises
one of :data:`tests.fault_helpers.DOWN` (the caller retries: sends carry a
``client_id``, every other action is idempotent or harmless twice); any
other refusal fails the test.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tests.account_helpers import bearer
from tests.ws_helpers import send

REACTION = ":+1:"
REACTION_PATH = "%3A%2B1%3A"


async def ok(response: httpx.Response, *also: int) -> Any:
    """The JSON of a success (or of one of the statuses ``also``)."""
    if response.status_code >= 500:
        raise httpx.TransportError(f"status {response.status_code}")
    assert response.status_code < 300 or response.status_code in also, response.text
    return response.json() if response.content else None


class Door:
    """One door, used with one user's token."""

    name = ""

    def __init__(self, http: httpx.AsyncClient, ws_url: str, token: str) -> None:
        self.http, self.ws_url, self.token = http, ws_url, token

    async def post(self, room: str, key: str, text: str = "") -> int:
        """Send ``text`` (``key`` without one) with ``key`` as its client_id."""
        raise NotImplementedError

    async def edit(self, room: str, mid: int, text: str) -> None:
        raise NotImplementedError

    async def delete(self, room: str, mid: int) -> None:
        raise NotImplementedError

    async def react(self, room: str, mid: int, add: bool) -> None:
        raise NotImplementedError

    async def dm(self, to: int, key: str) -> int:
        raise NotImplementedError

    async def dm_edit(self, to: int, mid: int, text: str) -> None:
        raise NotImplementedError

    async def dm_delete(self, to: int, mid: int) -> None:
        raise NotImplementedError

    async def dm_react(self, to: int, mid: int, add: bool) -> None:
        raise NotImplementedError

    async def join(self, room: str) -> None:
        raise NotImplementedError

    async def leave(self, room: str) -> None:
        raise NotImplementedError

    async def mark_room(self, room: str, mid: int) -> None:
        raise NotImplementedError

    async def mark_dm(self, other: int, mid: int) -> None:
        raise NotImplementedError


class Rest(Door):
    name = "rest"

    async def _call(self, method: str, path: str, body: Any = None, *also: int) -> Any:
        response = await self.http.request(method, path, json=body, headers=bearer(self.token))
        return await ok(response, *also)

    async def post(self, room: str, key: str, text: str = "") -> int:
        body = {"content": text or key, "client_id": key}
        return int((await self._call("POST", f"/chat/rooms/{room}/messages", body))["id"])

    async def edit(self, room: str, mid: int, text: str) -> None:
        await self._call("PATCH", f"/chat/rooms/{room}/messages/{mid}", {"content": text})

    async def delete(self, room: str, mid: int) -> None:
        await self._call("DELETE", f"/chat/rooms/{room}/messages/{mid}")

    async def react(self, room: str, mid: int, add: bool) -> None:
        path = f"/chat/rooms/{room}/messages/{mid}/reactions/{REACTION_PATH}"
        await self._call("PUT" if add else "DELETE", path)

    async def dm(self, to: int, key: str) -> int:
        body = {"content": key, "client_id": key}
        return int((await self._call("POST", f"/chat/dm/{to}", body))["id"])

    async def dm_edit(self, to: int, mid: int, text: str) -> None:
        await self._call("PATCH", f"/chat/dm/{to}/messages/{mid}", {"content": text})

    async def dm_delete(self, to: int, mid: int) -> None:
        await self._call("DELETE", f"/chat/dm/{to}/messages/{mid}")

    async def dm_react(self, to: int, mid: int, add: bool) -> None:
        path = f"/chat/dm/{to}/messages/{mid}/reactions/{REACTION_PATH}"
        await self._call("PUT" if add else "DELETE", path)

    async def join(self, room: str) -> None:
        """REST joins a room by creating it (409: an earlier try did)."""
        await self._call("POST", "/chat/rooms", {"name": room}, 409)

    async def leave(self, room: str) -> None:
        await self._call("DELETE", f"/chat/rooms/{room}/members/me")

    async def mark_room(self, room: str, mid: int) -> None:
        await self._call("PUT", f"/chat/rooms/{room}/read", {"message_id": mid})

    async def mark_dm(self, other: int, mid: int) -> None:
        await self._call("PUT", f"/chat/dm/{other}/read", {"message_id": mid})


class GraphQL(Door):
    name = "gql"

    async def _call(
        self, field: str, args: str, variables: dict[str, Any], select: str = "__typename"
    ) -> Any:
        declared = ", ".join(f"${k}: {t}" for k, t in _TYPES.items() if k in variables)
        query = f"mutation ({declared}) {{ {field}({args}) {{ {select} }} }}"
        body = await ok(
            await self.http.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers=bearer(self.token),
            )
        )
        assert not body.get("errors"), body
        return body["data"][field]

    async def _id(self, field: str, args: str, variables: dict[str, Any]) -> int:
        return int((await self._call(field, args, variables, "id"))["id"])

    async def post(self, room: str, key: str, text: str = "") -> int:
        args = "room: $room, content: $text, clientId: $key"
        variables = {"room": room, "text": text or key, "key": key}
        return await self._id("sendMessage", args, variables)

    async def edit(self, room: str, mid: int, text: str) -> None:
        await self._call("editMessage", "id: $id, content: $text", {"id": mid, "text": text})

    async def delete(self, room: str, mid: int) -> None:
        await self._call("deleteMessage", "id: $id", {"id": mid})

    async def react(self, room: str, mid: int, add: bool) -> None:
        field = "addReaction" if add else "removeReaction"
        await self._call(field, "id: $id, reaction: $reaction", {"id": mid, "reaction": REACTION})

    async def dm(self, to: int, key: str) -> int:
        args = "to: $to, content: $text, clientId: $key"
        return await self._id("sendDirectMessage", args, {"to": to, "text": key, "key": key})

    async def dm_edit(self, to: int, mid: int, text: str) -> None:
        variables = {"id": mid, "text": text}
        await self._call("editDirectMessage", "id: $id, content: $text", variables)

    async def dm_delete(self, to: int, mid: int) -> None:
        await self._call("deleteDirectMessage", "id: $id", {"id": mid})

    async def dm_react(self, to: int, mid: int, add: bool) -> None:
        field = "addDirectMessageReaction" if add else "removeDirectMessageReaction"
        await self._call(field, "id: $id, reaction: $reaction", {"id": mid, "reaction": REACTION})

    async def join(self, room: str) -> None:
        await self._call("joinRoom", "room: $room", {"room": room})

    async def leave(self, room: str) -> None:
        await self._call("leaveRoom", "room: $room", {"room": room})

    async def mark_room(self, room: str, mid: int) -> None:
        await self._call("markRoomRead", "room: $room, messageId: $id", {"room": room, "id": mid})

    async def mark_dm(self, other: int, mid: int) -> None:
        variables = {"to": other, "id": mid}
        await self._call("markDirectMessagesRead", "withUser: $to, messageId: $id", variables)


_TYPES = {
    "room": "String!",
    "text": "String!",
    "key": "String",
    "id": "ID!",
    "to": "ID!",
    "reaction": "String!",
}


class WebSocket(Door):
    """Each action on a fresh chat connection (the process may be gone)."""

    name = "ws"

    async def _call(self, frame: dict[str, Any]) -> dict[str, Any]:
        async with connect(self.ws_url, additional_headers=bearer(self.token)) as ws:
            # The user's own channel is live before `ready`: a DM or a read
            # marker of another device may come first.
            while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "ready":
                pass
            await send(ws, {**frame, "ref": "r"})
            while True:
                reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if reply.get("ref") == "r":
                    assert reply["type"] != "error", (frame, reply)
                    return reply

    async def post(self, room: str, key: str, text: str = "") -> int:
        frame = {"type": "message", "room": room, "content": text or key, "client_id": key}
        return int((await self._call(frame))["id"])

    async def edit(self, room: str, mid: int, text: str) -> None:
        await self._call({"type": "edit", "id": mid, "content": text})

    async def delete(self, room: str, mid: int) -> None:
        await self._call({"type": "delete", "id": mid})

    async def react(self, room: str, mid: int, add: bool) -> None:
        await self._call({"type": "react" if add else "unreact", "id": mid, "reaction": REACTION})

    async def dm(self, to: int, key: str) -> int:
        frame = {"type": "dm", "to": to, "content": key, "client_id": key}
        return int((await self._call(frame))["id"])

    async def dm_edit(self, to: int, mid: int, text: str) -> None:
        await self._call({"type": "dm_edit", "id": mid, "content": text})

    async def dm_delete(self, to: int, mid: int) -> None:
        await self._call({"type": "dm_delete", "id": mid})

    async def dm_react(self, to: int, mid: int, add: bool) -> None:
        kind = "dm_react" if add else "dm_unreact"
        await self._call({"type": kind, "id": mid, "reaction": REACTION})

    async def join(self, room: str) -> None:
        await self._call({"type": "join", "room": room})

    async def leave(self, room: str) -> None:
        await self._call({"type": "leave", "room": room})

    async def mark_room(self, room: str, mid: int) -> None:
        await self._call({"type": "read", "room": room, "id": mid})

    async def mark_dm(self, other: int, mid: int) -> None:
        await self._call({"type": "read", "with": other, "id": mid})


DOORS: tuple[type[Door], ...] = (Rest, GraphQL, WebSocket)
