"""HTTP hygiene shared by every path: security headers and body limits.

Both sit inside Starlette's outermost error middleware, so
:class:`SecurityHeaders` also answers an unexpected exception itself (a
fixed 500 body) rather than letting it escape with a response that would
carry none of its headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import INTERNAL_MESSAGE, graphql_body, rest_body

log = logging.getLogger("comptoir.http")

# A refused body is read (and dropped) up to this much before answering.
DRAIN_BYTES = 16 * 1024 * 1024
DRAIN_SECONDS = 5.0
# Paths whose errors take the GraphQL shape {"errors": [...]}.
GRAPHQL_PATHS = frozenset({"/graphql"})

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
# GraphiQL and the docs page load their scripts from this server (core.assets),
# never inline; their styles are partly inline (React) and their fonts are
# data: URLs embedded in GraphiQL's stylesheet. JSON needs nothing.
CSP_API = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
CSP_PAGES = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"font-src 'self' data:; img-src 'self' data:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def error_body(path: str, code: str, message: str) -> bytes:
    """An error in the shape of the door that ``path`` belongs to."""
    if path in GRAPHQL_PATHS:
        return json.dumps(graphql_body(message, {"code": code})).encode()
    return json.dumps(rest_body(code, message)).encode()


async def send_error(
    send: Send, status: int, path: str, code: str, message: str, *, close: bool = False
) -> None:
    """Answer with :func:`error_body` straight on ASGI (outside any framework);
    ``close`` asks the client to drop the connection after it."""
    body = error_body(path, code, message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if https and HSTS[0] not in present:
                    headers.append(HSTS)
                is_html = any(
                    name.lower() == b"content-type" and value.startswith(b"text/html")
                    for name, value in headers
                )
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", CSP_PAGES if is_html else CSP_API))
                if b"cache-control" not in present and not is_html:
                    # API answers carry tokens and private data: no shared caches.
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except ClientDisconnect:
            # Nobody is left to answer, and it is not our bug: one line.
            log.info("client hung up mid-request on %s %s", scope.get("method"), scope.get("path"))
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            path = scope.get("path", "")
            await send_error(
                send_with_headers, 500, path, "INTERNAL_SERVER_ERROR", INTERNAL_MESSAGE
            )


class BodyLimit:
    """Refuse request bodies over a limit with 413, declared or streamed.

    Multipart bodies (uploads) get their own, larger limit; the upload code
    enforces the exact file size as it streams.
    """

    def __init__(self, app: ASGIApp, *, limit: int, multipart_limit: int) -> None:
        self.app = app
        self.limit = limit
        self.multipart_limit = multipart_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        content_type = headers.get(b"content-type", b"").lower()
        limit = self.multipart_limit if content_type.startswith(b"multipart/") else self.limit
        path = scope.get("path", "")
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            if int(declared) <= limit + DRAIN_BYTES:
                await _drain(receive, int(declared))
            await _too_large(send, limit, path)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def refuse() -> None:
            await _drain(receive)
            await _too_large(send, limit, path)

        await run_refusable(self.app, scope, limited_receive, send, BodyTooLarge, refuse)


async def run_refusable(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    refusal: type[Exception],
    answer: Callable[[], Awaitable[None]],
) -> bool:
    """Run ``app`` with a ``receive`` that may raise ``refusal`` to end the request.

    Then ``answer`` (an error sent straight on ASGI) goes out unless a
    response has already started. Returns whether the request was refused.
    """
    response_started = False

    async def tracking_send(message: Message) -> None:
        nonlocal response_started
        if message["type"] == "http.response.start":
            response_started = True
        await send(message)

    try:
        await app(scope, receive, tracking_send)
    except refusal:
        if not response_started:
            await answer()
        return True
    return False


async def _drain(receive: Receive, budget: int = DRAIN_BYTES) -> None:
    """Read and drop what is left of a refused body, up to a bound.

    A client still sending when the server answers and closes often sees a
    reset instead of the 413; reading the rest first lets it see the answer.
    """

    async def drain() -> None:
        left = budget
        while left > 0:
            message = await receive()
            if message["type"] != "http.request":
                return
            left -= len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(drain(), DRAIN_SECONDS)


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body over {limit} bytes")
        self.limit = limit


async def _too_large(send: Send, limit: int, path: str) -> None:
    message = f"Request body over {limit} bytes."
    await send_error(send, 413, path, "PAYLOAD_TOO_LARGE", message, close=True)
