"""REST: /chat/rooms, /chat/rooms/{room}/messages, /chat/dm/{user_id},
``PUT /chat/rooms/{room}/members/me`` (join the room: 200 with the room,
idempotent; rules in ``resolvers.rooms.join_room``, as ``joinRoom`` and the
``join`` frame) and ``DELETE /chat/rooms/{room}/members/me`` (leave the room:
200 with the room, idempotent; rules in ``resolvers.rooms.leave_room``).

Message bodies are :func:`rest_compat.conversations.bodies`. ``?limit=``
reads the last ``limit`` messages (before ``?before=`` if given); with only
``?after=`` it reads the first ``limit`` after it. A retried POST with the
same ``client_id`` (same target and content) answers 201 with the message
already stored; the same ``client_id`` with another target or content is 409.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from models import DirectMessage, Message, Room
from resolvers import direct_messages as dms
from resolvers import messages, rooms
from resolvers.pagination import Window
from rest_compat.conversations import DM, ROOM, Conversation, bodies, body_of
from rest_compat.http import (
    JSONResponse,
    iso,
    json_object,
    list_response,
    query_int,
    require_user,
    required,
)


def room_body(row: Room) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "is_private": row.is_private,
        "created_at": iso(row.created_at),
    }


def _paging(request: Request) -> dict[str, Any]:
    window = Window.of(
        query_int(request, "limit"),
        before=query_int(request, "before"),
        after=query_int(request, "after"),
    )
    return window.args()


async def list_rooms(request: Request) -> Response:
    rows = await rooms.list_rooms(
        actor=await require_user(request),
        first=query_int(request, "limit"),
        after=query_int(request, "after"),
    )
    return list_response(request, [room_body(r) for r in rows])


async def create_room(request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    is_private = body.get("is_private")
    row = await rooms.create_room(
        actor=actor,
        name=required(body, "name"),
        is_private=False if is_private is None else is_private,
    )
    return JSONResponse(room_body(row), status_code=201)


async def join_room(request: Request) -> Response:
    actor = await require_user(request)
    row = await rooms.join_room(actor=actor, room=request.path_params["room"])
    return JSONResponse(room_body(row))


async def leave_room(request: Request) -> Response:
    actor = await require_user(request)
    row = await rooms.leave_room(actor=actor, room=request.path_params["room"])
    return JSONResponse(room_body(row))


async def room_messages(request: Request) -> Response:
    actor = await require_user(request)
    _room, page = await messages.room_messages(actor=actor, **ROOM.of(request), **_paging(request))
    return list_response(request, await bodies(page.items, actor.id))


async def direct_messages(request: Request) -> Response:
    actor = await require_user(request)
    page = await dms.direct_messages(actor=actor, **DM.of(request), **_paging(request))
    return list_response(request, await bodies(page.items, actor.id))


async def post(
    conversation: Conversation,
    send: Callable[..., Awaitable[Message | DirectMessage]],
    request: Request,
) -> Response:
    """Send a message to the conversation (``send``: its resolver)."""
    actor = await require_user(request)
    body = await json_object(request)
    row = await send(
        actor=actor,
        **{conversation.send_keyword: request.path_params[conversation.param]},
        content=required(body, "content"),
        client_id=body.get("client_id"),
        reply_to=body.get("reply_to"),
        attachments=body.get("attachments"),
    )
    return JSONResponse(await body_of(row, actor.id), status_code=201)


routes = [
    Route("/chat/rooms", list_rooms, methods=["GET"]),
    Route("/chat/rooms", create_room, methods=["POST"]),
    Route(ROOM.history, room_messages, methods=["GET"]),
    Route(ROOM.history, partial(post, ROOM, messages.send_message), methods=["POST"]),
    Route(DM.history, direct_messages, methods=["GET"]),
    Route(DM.history, partial(post, DM, dms.send_direct_message), methods=["POST"]),
    Route("/chat/rooms/{room}/members/me", join_room, methods=["PUT"]),
    Route("/chat/rooms/{room}/members/me", leave_room, methods=["DELETE"]),
]
