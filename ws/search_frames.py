"""The ``search`` frame (issue 15) and its ``search_results`` answer.

Parsed like every frame (:mod:`ws.frames` lists it in its ``PARSERS``);
the rules are in ``resolvers.search``. A result holds ``kind`` (``message``
or ``dm``), ``snippet``, ``cursor`` and the message as history shows it;
``next_after`` is the ``after`` of the next page (null on the last).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models import DirectMessage, Message
from resolvers import search
from ws.change_frames import history_items

if TYPE_CHECKING:
    from ws.frames import Ref, RoomRef, _Fields


@dataclass(frozen=True, slots=True)
class Search:
    ref: Ref
    query: str
    room: RoomRef | None = None
    author: int | None = None
    since: str | None = None
    until: str | None = None
    limit: int | None = None
    after: str | None = None


def search_parser(f: _Fields) -> Search:
    return Search(
        ref=f.ref,
        query=f.required_string("query"),
        room=f.room() if f.frame.get("room") is not None else None,
        author=f.user_id("author") if f.frame.get("author") is not None else None,
        since=f.string("from", required=False),
        until=f.string("to", required=False),
        limit=f.integer("limit"),
        after=f.string("after", required=False),
    )


async def results_frame(page: search.SearchPage, viewer_id: int) -> dict[str, Any]:
    rooms = [h.row for h in page.hits if isinstance(h.row, Message)]
    dms = [h.row for h in page.hits if isinstance(h.row, DirectMessage)]
    shown = dict(zip(((search.ROOM, r.id) for r in rooms), await history_items(rooms, viewer_id)))
    shown.update(zip(((search.DM, r.id) for r in dms), await history_items(dms, viewer_id)))
    results = [
        {
            "kind": "dm" if h.key.kind == search.DM else "message",
            "snippet": h.snippet,
            "cursor": h.cursor,
            "message": shown[h.key.kind, h.key.id],
        }
        for h in page.hits
    ]
    next_after = page.end_cursor if page.has_next else None
    return {"type": "search_results", "results": results, "next_after": next_after}
