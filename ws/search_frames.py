"""The ``search`` frame (issue 15) and its ``search_results`` answer.

Parsed like every frame (:mod:`ws.frames` lists it in its ``PARSERS``);
the rules are in ``resolvers.search``. A result holds ``kind`` (``message``
or ``dm``), ``snippet``, ``cursor`` and the message as history shows it;
``next_after`` is the ``after`` of the next page (null on the last).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ws.frame_fields import Fields, Ref, RoomRef


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


def search_parser(f: Fields) -> Search:
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
