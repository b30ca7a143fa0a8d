"""REST: /chat/rooms, /chat/rooms/{room}/messages, /chat/dm/{user_id}.

Message bodies are the WebSocket frames without ``type`` (one shape on
every door). ``?limit=`` reads the last ``limit`` messages (before
``?before=`` if given); with only ``?after=`` it reads the first ``limit``
after it. A retried POST with the same ``client_id`` answers 201 with the
message already stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from models import DirectMessage, Message, Room
from resolvers import attachments, chat, reactions, replies
from resolvers.attachments import AttachedFile
from resolvers.events import DirectMessageSent, MessagePosted
from resolvers.pagination import Window
from resolvers.reactions import ReactionCount
from resolvers.replies import ReplyPreview
from rest_compat import openapi as oa
from rest_compat.http import iso, json_object, query_int, require_user, required


def room_body(row: Room) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "is_private": row.is_private,
        "created_at": iso(row.created_at),
    }


def _changed(event: MessagePosted | DirectMessageSent, body: dict[str, Any]) -> dict[str, Any]:
    """As on the WebSocket: ``edited_at`` once edited, ``deleted: true`` once deleted."""
    if event.edited_at is not None:
        body["edited_at"] = iso(event.edited_at)
    if event.deleted:
        body["deleted"] = True
    if event.reply_to_id is not None:
        body["reply_to"] = {
            "id": event.reply_to_id,
            "from_user": event.reply_author_id,
            "preview": event.reply_preview or "",
            "deleted": event.reply_preview is None,
        }
    if isinstance(event, MessagePosted) and event.mentions:
        body["mentions"] = list(event.mentions)
    if event.attachments:
        body["attachments"] = [{**a, "url": f"/files/{a['id']}"} for a in event.attachments]
    return body


def with_reactions(body: dict[str, Any], counts: Sequence[ReactionCount]) -> dict[str, Any]:
    """As on the WebSocket: ``reactions`` once it has any."""
    if counts:
        body["reactions"] = [
            {"reaction": c.reaction, "count": c.count, "me": c.mine} for c in counts
        ]
    return body


def message_body(
    row: Message, reply: ReplyPreview | None = None, files: Sequence[AttachedFile] = ()
) -> dict[str, Any]:
    """A message as the contract shows it on every door (no ``type`` here)."""
    event = MessagePosted.from_row(row, reply, files)
    return _changed(
        event,
        {
            "id": event.id,
            "room": event.room_name,
            "room_id": event.room_id,
            "from_user": event.author_id,
            "content": event.content,
            "timestamp": iso(event.created_at),
            "client_id": event.client_id,
        },
    )


def dm_body(
    row: DirectMessage, reply: ReplyPreview | None = None, files: Sequence[AttachedFile] = ()
) -> dict[str, Any]:
    event = DirectMessageSent.from_row(row, reply, files)
    return _changed(
        event,
        {
            "id": event.id,
            "from_user": event.sender_id,
            "to_user": event.recipient_id,
            "content": event.content,
            "timestamp": iso(event.created_at),
            "client_id": event.client_id,
        },
    )


async def bodies(rows: Sequence[Message | DirectMessage], viewer_id: int) -> list[dict[str, Any]]:
    """Messages (or DMs) with what they reply to and their reactions, as
    history shows them: two or three queries for any number of rows."""
    dm = bool(rows) and isinstance(rows[0], DirectMessage)
    counts = await reactions.summaries(viewer_id=viewer_id, ids=[r.id for r in rows], dm=dm)
    reps = await replies.of_rows(rows)
    files = await attachments.of_messages((r.id for r in rows), dm=dm)
    result = []
    for row in rows:
        reply, linked = reps.get(row.reply_to_id or 0), files[row.id]
        if isinstance(row, DirectMessage):
            body = dm_body(row, reply, linked)
        else:
            body = message_body(row, reply, linked)
        result.append(with_reactions(body, counts[row.id]))
    return result


async def body_of(row: Message | DirectMessage, viewer_id: int) -> dict[str, Any]:
    (one,) = await bodies([row], viewer_id)
    return one


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
    return JSONResponse(await bodies(page.items, actor.id))


async def post_message(request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    row = await chat.send_message(
        actor=actor,
        room=request.path_params["room"],
        content=required(body, "content"),
        client_id=body.get("client_id"),
        reply_to=body.get("reply_to"),
        attachments=body.get("attachments"),
    )
    return JSONResponse(await body_of(row, actor.id), status_code=201)


async def direct_messages(request: Request) -> Response:
    actor = await require_user(request)
    page = await chat.direct_messages(
        actor=actor, with_user=request.path_params["user_id"], **_paging(request)
    )
    return JSONResponse(await bodies(page.items, actor.id))


async def post_direct_message(request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    row = await chat.send_direct_message(
        actor=actor,
        to=request.path_params["user_id"],
        content=required(body, "content"),
        client_id=body.get("client_id"),
        reply_to=body.get("reply_to"),
        attachments=body.get("attachments"),
    )
    return JSONResponse(await body_of(row, actor.id), status_code=201)


routes = [
    Route("/chat/rooms", list_rooms, methods=["GET"]),
    Route("/chat/rooms", create_room, methods=["POST"]),
    Route("/chat/rooms/{room}/messages", room_messages, methods=["GET"]),
    Route("/chat/rooms/{room}/messages", post_message, methods=["POST"]),
    Route("/chat/dm/{user_id}", direct_messages, methods=["GET"]),
    Route("/chat/dm/{user_id}", post_direct_message, methods=["POST"]),
]


_TIMESTAMP = {"type": "string", "format": "date-time"}
_CLIENT_ID = {"type": ["string", "null"], "minLength": 1, "maxLength": 64}
_CONTENT = {"type": "string", "minLength": 1, "maxLength": 4000}
_ROOM = {
    "type": "object",
    "required": ["id", "name", "is_private", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string", "minLength": 1, "maxLength": 64},
        "is_private": {"type": "boolean"},
        "created_at": _TIMESTAMP,
    },
}
_EDITED_AT = {"type": "string", "format": "date-time", "description": "Last edit, once edited"}
_DELETED = {
    "type": "boolean",
    "const": True,
    "description": "Present once deleted: a tombstone, id and timestamp kept, content empty",
}
_REACTION_COUNTS = {
    "type": "array",
    "description": "In history, once it has reactions: each with its count, and `me` when "
    "the caller is among those who reacted",
    "items": {
        "type": "object",
        "required": ["reaction", "count", "me"],
        "properties": {
            "reaction": {"type": "string"},
            "count": {"type": "integer", "minimum": 1},
            "me": {"type": "boolean"},
        },
    },
}
_MESSAGE = {
    "type": "object",
    "required": ["id", "room_id", "room", "from_user", "content", "timestamp", "client_id"],
    "properties": {
        "id": {"type": "integer"},
        "room_id": {"type": "integer"},
        "room": {"type": "string", "description": "The room's name"},
        "from_user": {"type": "integer", "description": "The author's user id"},
        "content": {"type": "string", "maxLength": 4000, "description": "Empty once deleted"},
        "timestamp": _TIMESTAMP,
        "client_id": _CLIENT_ID,
        "edited_at": _EDITED_AT,
        "deleted": _DELETED,
        "reactions": {"$ref": "#/components/schemas/ReactionCounts"},
    },
}
_DM = {
    "type": "object",
    "required": ["id", "from_user", "to_user", "content", "timestamp", "client_id"],
    "properties": {
        "id": {"type": "integer"},
        "from_user": {"type": "integer"},
        "to_user": {"type": "integer"},
        "content": {"type": "string", "maxLength": 4000, "description": "Empty once deleted"},
        "timestamp": _TIMESTAMP,
        "client_id": _CLIENT_ID,
        "edited_at": _EDITED_AT,
        "deleted": _DELETED,
        "reactions": {"$ref": "#/components/schemas/ReactionCounts"},
    },
}
_SEND = {
    "type": "object",
    "required": ["content"],
    "properties": {
        "content": _CONTENT,
        "client_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "description": "Idempotency key: a retry with the same one stores nothing twice "
            "and answers with the message already stored.",
        },
    },
}
_PAGING = [
    {
        "name": "limit",
        "in": "query",
        "description": "Page size, default 50; over 100 is clamped to 100.",
        "schema": {"type": "integer", "minimum": 0},
    },
    {
        "name": "before",
        "in": "query",
        "description": "The last `limit` messages before this message id.",
        "schema": {"type": "integer", "minimum": 0},
    },
    {
        "name": "after",
        "in": "query",
        "description": "Alone: the first `limit` messages after this message id.",
        "schema": {"type": "integer", "minimum": 0},
    },
]
_ROOM_PARAM = {
    "name": "room",
    "in": "path",
    "required": True,
    "description": "A room's id or name",
    "schema": {"type": "string"},
}
_USER_PARAM = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_ROOM_NOT_FOUND = oa.error("404", "No such room, or a private room the caller is not in")
_USER_NOT_FOUND = oa.error("404", "No such user")
_RATE = oa.error("429", "Too many messages (Retry-After says when to retry)")
OPENAPI: dict[str, Any] = {
    "schemas": {
        "Room": _ROOM,
        "Message": _MESSAGE,
        "DirectMessage": _DM,
        "ReactionCounts": _REACTION_COUNTS,
    },
    "paths": {
        "/chat/rooms": {
            "get": {
                "summary": "Public rooms and the caller's private rooms",
                "security": oa.BEARER,
                "responses": {
                    **oa.ok("200", {"type": "array", "items": oa.ref("Room")}),
                    **oa.AUTH_ERRORS,
                },
            },
            "post": {
                "summary": "Create a room (the creator becomes a member)",
                "security": oa.BEARER,
                "requestBody": oa.json_body(
                    {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 64,
                                "description": "Unique; not all digits",
                            },
                            "is_private": {"type": "boolean", "default": False},
                        },
                    }
                ),
                "responses": {
                    **oa.ok("201", oa.ref("Room"), "Created"),
                    **oa.AUTH_ERRORS,
                    **oa.COMMON_ERRORS,
                    **oa.error("409", "The name is taken"),
                    **oa.error("422", "Invalid name (empty, too long, all digits) or is_private"),
                },
            },
        },
        "/chat/rooms/{room}/messages": {
            "get": {
                "summary": "A room's history, oldest first (public room, or member)",
                "security": oa.BEARER,
                "parameters": [_ROOM_PARAM, *_PAGING],
                "responses": {
                    **oa.ok("200", {"type": "array", "items": oa.ref("Message")}),
                    **oa.AUTH_ERRORS,
                    **_ROOM_NOT_FOUND,
                    **oa.error("422", "Invalid paging (negative or not an integer)"),
                },
            },
            "post": {
                "summary": "Post a message (public room, or member)",
                "security": oa.BEARER,
                "parameters": [_ROOM_PARAM],
                "requestBody": oa.json_body(_SEND),
                "responses": {
                    **oa.ok("201", oa.ref("Message"), "Stored (or already stored, by client_id)"),
                    **oa.AUTH_ERRORS,
                    **oa.COMMON_ERRORS,
                    **_ROOM_NOT_FOUND,
                    **_RATE,
                },
            },
        },
        "/chat/dm/{user_id}": {
            "get": {
                "summary": "The conversation between the caller and user_id, oldest first",
                "security": oa.BEARER,
                "parameters": [_USER_PARAM, *_PAGING],
                "responses": {
                    **oa.ok("200", {"type": "array", "items": oa.ref("DirectMessage")}),
                    **oa.AUTH_ERRORS,
                    **_USER_NOT_FOUND,
                    **oa.error("422", "Invalid user id or paging"),
                },
            },
            "post": {
                "summary": "Send a direct message to user_id",
                "security": oa.BEARER,
                "parameters": [_USER_PARAM],
                "requestBody": oa.json_body(_SEND),
                "responses": {
                    **oa.ok("201", oa.ref("DirectMessage"), "Stored (or already stored)"),
                    **oa.AUTH_ERRORS,
                    **oa.COMMON_ERRORS,
                    **_USER_NOT_FOUND,
                    **oa.error("422", "Invalid input, or a message to oneself"),
                    **_RATE,
                },
            },
        },
    },
}
