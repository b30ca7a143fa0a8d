"""REST: /chat/rooms, /chat/rooms/{room}/messages, /chat/dm/{user_id}.

Message bodies are the WebSocket frames without ``type`` (one shape on
every door). ``?limit=`` reads the last ``limit`` messages (before
``?before=`` if given); with only ``?after=`` it reads the first ``limit``
after it. A retried POST with the same ``client_id`` answers 201 with the
message already stored.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from models import DirectMessage, Message, Room
from resolvers import chat
from resolvers.events import DirectMessageSent, MessagePosted
from resolvers.pagination import Window
from rest_compat.http import iso, json_object, query_int, require_user, required


def room_body(row: Room) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "is_private": row.is_private,
        "created_at": iso(row.created_at),
    }


def message_body(row: Message) -> dict[str, Any]:
    """A message as the contract shows it on every door (no ``type`` here)."""
    event = MessagePosted.from_row(row)
    return {
        "id": event.id,
        "room": event.room_name,
        "room_id": event.room_id,
        "from_user": event.author_id,
        "content": event.content,
        "timestamp": iso(event.created_at),
        "client_id": event.client_id,
    }


def dm_body(row: DirectMessage) -> dict[str, Any]:
    event = DirectMessageSent.from_row(row)
    return {
        "id": event.id,
        "from_user": event.sender_id,
        "to_user": event.recipient_id,
        "content": event.content,
        "timestamp": iso(event.created_at),
        "client_id": event.client_id,
    }


def _paging(request: Request) -> dict[str, int | None]:
    window = Window.of(
        query_int(request, "limit"),
        before=query_int(request, "before"),
        after=query_int(request, "after"),
    )
    return window.args()


async def list_rooms(request: Request) -> Response:
    rows = await chat.list_rooms(actor=await require_user(request))
    return JSONResponse([room_body(r) for r in rows])


async def create_room(request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    is_private = body.get("is_private")
    row = await chat.create_room(
        actor=actor,
        name=required(body, "name"),
        is_private=False if is_private is None else is_private,
    )
    return JSONResponse(room_body(row), status_code=201)


async def room_messages(request: Request) -> Response:
    actor = await require_user(request)
    _room, page = await chat.room_messages(
        actor=actor, room=request.path_params["room"], **_paging(request)
    )
    return JSONResponse([message_body(m) for m in page.items])


async def post_message(request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    row = await chat.send_message(
        actor=actor,
        room=request.path_params["room"],
        content=required(body, "content"),
        client_id=body.get("client_id"),
    )
    return JSONResponse(message_body(row), status_code=201)


async def direct_messages(request: Request) -> Response:
    actor = await require_user(request)
    page = await chat.direct_messages(
        actor=actor, with_user=request.path_params["user_id"], **_paging(request)
    )
    return JSONResponse([dm_body(d) for d in page.items])


async def post_direct_message(request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    row = await chat.send_direct_message(
        actor=actor,
        to=request.path_params["user_id"],
        content=required(body, "content"),
        client_id=body.get("client_id"),
    )
    return JSONResponse(dm_body(row), status_code=201)


routes = [
    Route("/chat/rooms", list_rooms, methods=["GET"]),
    Route("/chat/rooms", create_room, methods=["POST"]),
    Route("/chat/rooms/{room}/messages", room_messages, methods=["GET"]),
    Route("/chat/rooms/{room}/messages", post_message, methods=["POST"]),
    Route("/chat/dm/{user_id}", direct_messages, methods=["GET"]),
    Route("/chat/dm/{user_id}", post_direct_message, methods=["POST"]),
]
