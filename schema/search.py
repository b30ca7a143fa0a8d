"""Search on GraphQL: ``searchMessages`` (rules in ``resolvers.search``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models import DirectMessage as DirectMessageRow
from models import Message as MessageRow
from resolvers import limits, search
from schema.context import Info
from schema.limits import DEFAULT_PAGE
from schema.message_types import DirectMessage, Message
from schema.pagination import PageInfo
from schema.rooms import prime_rooms


@strawberry.type(description="A message that matches a search: a room message or a DM.")
class SearchHit:
    snippet: str = strawberry.field(description=f"The match in context: {search.SNIPPET_RULE}.")
    message: Message | None = strawberry.field(description="Set for a room message.")
    direct_message: DirectMessage | None = strawberry.field(description="Set for a DM.")


@strawberry.type
class SearchHitEdge:
    cursor: str
    node: SearchHit


@strawberry.type
class SearchConnection:
    edges: list[SearchHitEdge]
    page_info: PageInfo


def _node(hit: search.Hit) -> SearchHit:
    row = hit.row
    if isinstance(row, MessageRow):
        return SearchHit(snippet=hit.snippet, message=Message.from_row(row), direct_message=None)
    assert isinstance(row, DirectMessageRow)
    return SearchHit(snippet=hit.snippet, message=None, direct_message=DirectMessage.from_row(row))


_DESCRIPTION = (
    "Full-text search over the messages the caller may read (as history reads them: public "
    "rooms, the private rooms they belong to, their own DMs), best match first among the "
    f"newest {limits.SEARCH_SCAN_MAX} matching room messages and DMs (`from`/`to` reach older "
    "ones); a deleted message is never found, an edited one by its new words. "
    f"`query`: {search.QUERY_RULE}. `room` (a room name or id) keeps that room's messages, "
    "`author` (a user id) that sender's, `from` (inclusive) and `to` (exclusive) a time "
    f"range. A page of `first` (default {limits.SEARCH_PAGE_DEFAULT}, at most "
    f"{limits.SEARCH_PAGE_MAX}) after the cursor `after` (an edge's cursor)."
)


@strawberry.type
class SearchQueries:
    @strawberry.field(description=_DESCRIPTION, metadata={DEFAULT_PAGE: limits.SEARCH_PAGE_DEFAULT})
    async def search_messages(
        self,
        info: Info,
        query: str,
        room: str | None = None,
        author: strawberry.ID | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> SearchConnection:
        page = await search.search_messages(
            actor=info.context.user,
            query=query,
            room=room,
            author=author,
            since=from_,
            until=to,
            first=first,
            after=after,
        )
        prime_rooms(info, [h.row.room for h in page.hits if isinstance(h.row, MessageRow)])
        edges = [SearchHitEdge(cursor=h.cursor, node=_node(h)) for h in page.hits]
        info_ = PageInfo(
            has_next_page=page.has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=page.end_cursor,
        )
        return SearchConnection(edges=edges, page_info=info_)
