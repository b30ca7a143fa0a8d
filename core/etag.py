"""Validators for GET responses: ``ETag`` and ``If-None-Match`` (RFC 9110).

A listing or a GET query answers with a weak ``ETag`` drawn from its body;
a client that sends it back in ``If-None-Match`` gets ``304 Not Modified``
without the body. The body is still computed (the resolvers run, rules and
all): what is saved is the bytes on the wire and the client's parsing.
Responses stay ``no-cache`` (a cache must revalidate every time, so it never
serves a stale page) and ``private`` when the request carried credentials.

Starlette sets ETags on static files only, hence this small helper shared by
both HTTP doors.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

CACHE_HEADER = "X-Cache"
"""Says where a cacheable answer came from: ``hit`` (the response cache),
``miss`` (computed and stored) or ``bypass`` (computed, not stored: see
``resolvers.response_cache``). Absent when the cache is off or the request
is not cacheable."""


def etag_for(body: bytes) -> str:
    return 'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison against an ``If-None-Match`` list (or ``*``)."""
    if not if_none_match:
        return False
    opaque = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return True
    return False


def conditional(request: Request, response: Response) -> Response:
    """``response`` with its validator, or a 304 when the client has this body."""
    if request.method not in {"GET", "HEAD"} or response.status_code != 200:
        return response
    body = getattr(response, "body", None)
    if not isinstance(body, bytes):
        return response  # streamed: no body to hash
    etag = etag_for(body)
    cache_control = "private, no-cache" if "authorization" in request.headers else "no-cache"
    response.headers["ETag"] = etag
    response.headers.setdefault("Cache-Control", cache_control)
    if not matches(request.headers.get("if-none-match"), etag):
        return response
    headers = {"ETag": etag, "Cache-Control": response.headers["Cache-Control"]}
    vary = response.headers.get("vary")
    if vary:
        headers["Vary"] = vary
    return Response(status_code=304, headers=headers)
