"""REST: ``GET /chat/sync?since=`` (rules in ``resolvers.sync``).

The body's shape is ``resolvers.sync_view``'s, as the chat WebSocket's
``sync`` reply (without ``type``): messages and DMs in history's shape, a
change as the WebSocket's change frame, markers as ``PUT .../read`` shows
them. No long-polling: a client polls (README, Read markers and sync).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from resolvers import sync as syncing
from resolvers import sync_view
from rest_compat.conversations import bodies
from rest_compat.http import JSONResponse, iso, require_user

WIRE = sync_view.Wire(messages=bodies, stamp=iso)


async def sync(request: Request) -> Response:
    actor = await require_user(request)
    found = await syncing.sync(actor=actor, since=request.query_params.get("since"))
    return JSONResponse(await sync_view.render(found, actor.id, WIRE))


routes = [Route("/chat/sync", sync, methods=["GET"])]
