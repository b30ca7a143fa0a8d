"""REST: ``GET /chat/search`` (rules in ``resolvers.search``).

``?q=`` is the query; ``room``, ``author``, ``from``, ``to`` filter;
``limit`` and ``after`` page. The answer is an object: ``results`` (each
with ``kind``, ``snippet``, ``cursor`` and the ``message`` as history shows
it) and ``next_after``, the cursor of the next page (null on the last).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import etag
from models import DirectMessage, Message
from resolvers import search
from rest_compat.chat import bodies
from rest_compat.http import query_int, require_user

PATH = "/chat/search"


async def result_items(page: search.SearchPage, viewer_id: int) -> list[dict[str, Any]]:
    """The hits of a page with their messages as history shows them."""
    rooms = [h.row for h in page.hits if isinstance(h.row, Message)]
    dms = [h.row for h in page.hits if isinstance(h.row, DirectMessage)]
    shown = dict(zip(((search.ROOM, r.id) for r in rooms), await bodies(rooms, viewer_id)))
    shown.update(zip(((search.DM, r.id) for r in dms), await bodies(dms, viewer_id)))
    return [
        {
            "kind": "dm" if h.key.kind == search.DM else "message",
            "snippet": h.snippet,
            "cursor": h.cursor,
            "message": shown[h.key.kind, h.key.id],
        }
        for h in page.hits
    ]


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
    body = {
        "results": await result_items(page, actor.id),
        "next_after": page.end_cursor if page.has_next else None,
    }
    return etag.conditional(request, JSONResponse(body))


routes = [Route(PATH, search_messages, methods=["GET"])]
