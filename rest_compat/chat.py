"""REST: /chat/rooms, /chat/rooms/{room}/messages, /chat/dm/{user_id}.

Message bodies are the WebSocket frames without ``type`` (one shape on
every door). ``?limit=`` reads the last ``limit`` messages (before
``?before=`` if given); with only ``?after=`` it reads the first ``limit``
after it. A retried POST with the same ``client_id`` (same target and content) answers
201 with the message already stored; the same ``client_id`` with another
target or content is 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from models import DirectMessage, Message, Room
from resolvers import attachments, messages, reactions, replies, rooms
from resolvers import direct_messages as dms
from resolvers.attachments import AttachedFile
from resolvers.events import DirectMessageSent, MessagePosted
from resolvers.pagination import Window
from resolvers.reactions import ReactionCount
from resolvers.replies import ReplyPreview
from rest_compat.http import iso, json_object, list_response, query_int, require_user, required


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


async def room_messages(request: Request) -> Response:
    actor = await require_user(request)
    _room, page = await messages.room_messages(
        actor=actor, room=request.path_params["room"], **_paging(request)
    )
    return list_response(request, await bodies(page.items, actor.id))


async def post_message(request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    row = await messages.send_message(
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
    page = await dms.direct_messages(
        actor=actor, with_user=request.path_params["user_id"], **_paging(request)
    )
    return list_response(request, await bodies(page.items, actor.id))


async def post_direct_message(request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    row = await dms.send_direct_message(
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
