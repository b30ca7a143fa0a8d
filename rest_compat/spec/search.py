"""OpenAPI description of search (handlers: ``rest_compat.search``)."""

from __future__ import annotations

from typing import Any

from resolvers import limits, search
from rest_compat.search import PATH
from rest_compat.spec import common as oa


def _query(name: str, kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": kind, **extra},
    }


_TIME = "ISO 8601 date or time (no offset: UTC)"
_PARAMS = [
    {
        **_query("q", "string", f"The query: {search.QUERY_RULE}.", minLength=1),
        "required": True,
        "example": 'deploy "release notes"',
    },
    _query("room", "string", "Only this room's messages (a name or id the caller may read)."),
    _query("author", "integer", "Only this sender's messages (a user id).", minimum=1),
    _query("from", "string", f"Sent at or after this time ({_TIME})."),
    _query("to", "string", f"Sent before this time ({_TIME})."),
    _query(
        "limit",
        "integer",
        f"Page size, default {limits.SEARCH_PAGE_DEFAULT}; over {limits.SEARCH_PAGE_MAX} is "
        "clamped.",
        minimum=0,
    ),
    _query("after", "string", "The `next_after` of the previous page."),
]
_HIT = {
    "type": "object",
    "required": ["kind", "snippet", "cursor", "message"],
    "properties": {
        "kind": {"type": "string", "enum": ["message", "dm"]},
        "snippet": {"type": "string", "description": f"The match: {search.SNIPPET_RULE}."},
        "cursor": {"type": "string", "description": "Where a page after this hit starts."},
        "message": {
            "description": "The message as history shows it (a Message or a DirectMessage).",
            "anyOf": [oa.ref("Message"), oa.ref("DirectMessage")],
        },
    },
}
_RESULTS = {
    "type": "object",
    "required": ["results", "next_after"],
    "properties": {
        "results": {"type": "array", "items": oa.ref("SearchHit")},
        "next_after": {
            "type": ["string", "null"],
            "description": "The `after` of the next page; null on the last page.",
        },
    },
}
_EXAMPLE_HIT = {
    "kind": "message",
    "snippet": "the <mark>deploy</mark> is done",
    "cursor": "czo0LjI6MDo0Mg==",
    "message": {
        "id": 42,
        "room_id": 1,
        "room": "general",
        "from_user": 1,
        "content": "the deploy is done",
        "timestamp": oa.WHEN,
        "client_id": None,
    },
}
OPENAPI: dict[str, Any] = {
    "schemas": {
        "SearchHit": oa.with_example(_HIT, _EXAMPLE_HIT),
        "SearchResults": oa.with_example(_RESULTS, {"results": [_EXAMPLE_HIT], "next_after": None}),
    },
    "paths": {
        PATH: {
            "get": {
                "operationId": "searchMessages",
                "summary": "Full-text search over the messages the caller may read (public "
                "rooms, their private rooms, their DMs), best match first",
                "security": oa.BEARER,
                "parameters": _PARAMS,
                "responses": {
                    **oa.ok("200", oa.ref("SearchResults")),
                    **oa.error("422", "No word in q, q too long, a bad filter or cursor"),
                    **oa.AUTH_ERRORS,
                    **oa.error("404", "No such room, or a private room of others"),
                },
            }
        }
    },
}
