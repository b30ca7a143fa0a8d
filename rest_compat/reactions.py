"""REST: reactions to a room message or a direct message.

``PUT .../reactions/{reaction}`` adds the caller's reaction (idempotent)
and answers the message with its reactions; ``DELETE`` removes it (204,
idempotent too); ``GET .../reactions`` lists who reacted with what. A
reaction in a path is percent-encoded (``%F0%9F%91%8D`` or ``:+1:``). The
rules are in ``resolvers.reactions``. Each handler is written once, for a
conversation (:class:`rest_compat.conversations.Conversation`) and its resolver.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from resolvers import reactions
from rest_compat.conversations import DM, ROOM, Conversation, body_of
from rest_compat.http import JSONResponse, require_user

Resolver = Callable[..., Awaitable[Any]]
ROOM_REACTIONS = ROOM.message + "/reactions"
DM_REACTIONS = DM.message + "/reactions"


async def react(
    conversation: Conversation, resolver: Resolver, add: bool, request: Request
) -> Response:
    actor = await require_user(request)
    row = await resolver(
        actor=actor,
        **conversation.of(request),
        reaction=request.path_params["reaction"],
        add=add,
    )
    if not add:
        return Response(status_code=204)
    return JSONResponse(await body_of(row, actor.id))


async def reactors(conversation: Conversation, resolver: Resolver, request: Request) -> Response:
    rows = await resolver(actor=await require_user(request), **conversation.of(request))
    return JSONResponse([{"reaction": r.reaction, "user_id": r.user_id} for r in rows])


def _routes(
    conversation: Conversation, path: str, react_to: Resolver, listing: Resolver
) -> list[Route]:
    return [
        Route(path, partial(reactors, conversation, listing), methods=["GET"]),
        Route(path + "/{reaction}", partial(react, conversation, react_to, True), methods=["PUT"]),
        Route(
            path + "/{reaction}", partial(react, conversation, react_to, False), methods=["DELETE"]
        ),
    ]


routes = [
    *_routes(ROOM, ROOM_REACTIONS, reactions.react_to_message, reactions.message_reactors),
    *_routes(
        DM, DM_REACTIONS, reactions.react_to_direct_message, reactions.direct_message_reactors
    ),
]
