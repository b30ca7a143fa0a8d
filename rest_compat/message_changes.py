"""REST: edit and delete a room message or a direct message.

``PATCH`` answers the edited message (the shape of ``GET`` history);
``DELETE`` answers 204 and leaves a tombstone in history. The rules
(author, edit window, ADMIN, 404 for what the caller may not see) are in
``resolvers.message_changes``. Each handler is written once, for a
conversation (:class:`rest_compat.conversations.Conversation`) and its resolver.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from resolvers import message_changes
from rest_compat.conversations import DM, ROOM, Conversation, body_of
from rest_compat.http import JSONResponse, json_object, require_user, required

Resolver = Callable[..., Awaitable[Any]]


async def edit(conversation: Conversation, resolver: Resolver, request: Request) -> Response:
    actor = await require_user(request)
    body = await json_object(request)
    row = await resolver(actor=actor, **conversation.of(request), content=required(body, "content"))
    return JSONResponse(await body_of(row, actor.id))


async def delete(conversation: Conversation, resolver: Resolver, request: Request) -> Response:
    actor = await require_user(request)
    await resolver(actor=actor, **conversation.of(request))
    return Response(status_code=204)


routes = [
    Route(ROOM.message, partial(edit, ROOM, message_changes.edit_message), methods=["PATCH"]),
    Route(ROOM.message, partial(delete, ROOM, message_changes.delete_message), methods=["DELETE"]),
    Route(DM.message, partial(edit, DM, message_changes.edit_direct_message), methods=["PATCH"]),
    Route(
        DM.message, partial(delete, DM, message_changes.delete_direct_message), methods=["DELETE"]
    ),
]
