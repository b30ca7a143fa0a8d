"""REST: ``GET /chat/search`` (rules in ``resolvers.search``).

``?q=`` is the query; ``room``, ``author``, ``from``, ``to`` filter;
``limit`` and ``after`` page. The answer is an object: ``results`` (each
with ``kind``, ``snippet``, ``cursor`` and the ``message`` as history shows
it) and ``next_after``, the cursor of the next page (null on the last).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import etag
from resolvers import search
from rest_compat.conversations import bodies
from rest_compat.http import JSONResponse, query_int, require_user

PATH = "/chat/search"


async def search_messages(request: Request) -> Response:
    actor = await require_user(request)
    params = request.query_params
    page = await search.search_messages(
        actor=actor,
        query=params.get("q"),
        room=params.get("room") or None,
        author=params.get("author") or None,
        since=params.get("from"),
        until=params.get("to"),
        first=query_int(request, "limit"),
        after=params.get("after") or None,
    )
    rooms = await bodies(page.rooms(), actor.id)
    dms = await bodies(page.dms(), actor.id)
    body = {"results": page.results(rooms, dms), "next_after": page.next_after()}
    return etag.conditional(request, JSONResponse(body))


routes = [Route(PATH, search_messages, methods=["GET"])]
