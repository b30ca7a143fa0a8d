"""What a GraphQL request over HTTP asks for: its operation and its media type.

- :func:`response_media_type`: ``application/graphql-response+json`` when
  ``Accept`` prefers it, ``application/json`` otherwise;
- :func:`check_request`: the shape of each operation of a batch;
- :func:`plain_post`: the common request, one operation POSTed as JSON,
  read in a few steps (anything else is left to Strawberry's parsing).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from strawberry.http import GraphQLRequestData

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_JSON_RANGES = {JSON, "application/*", "*/*"}
_REQUEST_KEYS: dict[str, tuple[type, ...]] = {
    "query": (str,),
    "operationName": (str,),
    "variables": (dict,),
    "extensions": (dict,),
}


@lru_cache(maxsize=64)
def response_media_type(accept: str | None) -> str:
    """``application/graphql-response+json`` when ``accept`` prefers it, else JSON
    (kept for the few ``Accept`` values clients send: parsed once each)."""
    graphql_q = json_q = 0.0
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media == GRAPHQL_RESPONSE:
            graphql_q = max(graphql_q, q)
        elif media in _JSON_RANGES:
            json_q = max(json_q, q)
    return GRAPHQL_RESPONSE if graphql_q > 0 and graphql_q >= json_q else JSON


def check_request(data: object) -> None:
    if not isinstance(data, dict):
        raise HTTPException(400, "A GraphQL request must be a JSON object.")
    for key, types in _REQUEST_KEYS.items():
        value = data.get(key)
        if value is not None and not isinstance(value, types):
            kind = "a string" if types == (str,) else "an object"
            raise HTTPException(400, f"The request's `{key}` must be {kind} or null.")


async def plain_post(
    request: AsyncHTTPRequestAdapter, parse_json: Callable[[bytes], object]
) -> GraphQLRequestData | None:
    """One well-formed operation POSTed as ``application/json`` without a
    streaming ``Accept``, read without Strawberry's generic negotiation
    (``email.message`` to parse the content type, a walk of the headers for
    a streaming transport). Anything else is None, and Strawberry's parsing
    answers it as it always did (the body is read once: Starlette keeps it)."""
    if request.method != "POST":
        return None
    headers = request.headers
    # Strawberry's test is case-sensitive: so is this one.
    media = (headers.get("content-type") or "").partition(";")[0].strip()
    accept = (headers.get("accept") or "").lower()
    if media != JSON or "multipart" in accept or "event-stream" in accept:
        return None
    data = parse_json(await request.get_body())
    if not isinstance(data, dict):
        return None
    query, variables = data.get("query"), data.get("variables")
    name, extensions = data.get("operationName"), data.get("extensions")
    if not (
        isinstance(query, str | None)
        and isinstance(name, str | None)
        and isinstance(variables, dict | None)
        and isinstance(extensions, dict | None)
    ):
        return None
    return GraphQLRequestData(
        query=query,
        variables=variables,
        operation_name=name,
        extensions=extensions,
        protocol="http",
    )
