"""One access line and the HTTP metrics per request; request ids.

``X-Request-ID`` is taken from the request when a trusted proxy sent it
(and it looks like an id), otherwise generated; either way it is echoed
back and carried by every log line written while serving the request.
WebSocket connections to the app (GraphQL over WS on ``/graphql``) get one
line when they open and one when they close, with the close code.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import logs, metrics

log = logging.getLogger("comptoir.access")

REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
UNMATCHED = "unmatched"
CLIENT_CLOSED_REQUEST = 499
ABNORMAL_CLOSURE = 1006


def route_of(scope: Scope) -> str:
    """The route template the router matched (``/products/{id}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class AccessLog:
    def __init__(self, app: ASGIApp, *, trusted: Callable[[Scope], bool]) -> None:
        self.app = app
        self.trusted = trusted

    def request_id(self, scope: Scope) -> str:
        if self.trusted(scope):
            for name, value in scope.get("headers", []):
                if name == REQUEST_ID_HEADER and _REQUEST_ID.fullmatch(value):
                    return bytes(value).decode("ascii")
        return uuid.uuid4().hex

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self.websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = self.request_id(scope)
        context, token = logs.begin(request_id)
        started = time.perf_counter()
        # No response at all: the client went away first (nginx's 499).
        status = CLIENT_CLOSED_REQUEST

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [h for h in message.get("headers", []) if h[0] != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, request_id.encode("ascii")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method, route = scope.get("method", "GET"), route_of(scope)
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_LATENCY.labels(method, route).observe(elapsed)
            log.info(
                "%s %s %d %.1f ms user=%s",
                method,
                route,
                status,
                elapsed * 1000,
                context.user_id if context.user_id is not None else "-",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 3),
                    "user_id": context.user_id,
                },
            )
            logs.end(token)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = self.request_id(scope)
        _context, token = logs.begin(request_id)
        code = ABNORMAL_CLOSURE
        accepted = False

        async def watch_receive() -> Message:
            nonlocal code
            message = await receive()
            if message["type"] == "websocket.receive":
                metrics.WS_FRAMES.labels("graphql", "in").inc()
            elif message["type"] == "websocket.disconnect":
                code = int(message.get("code", ABNORMAL_CLOSURE))
            return message

        async def watch_send(message: Message) -> None:
            nonlocal code, accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                metrics.WS_CONNECTIONS.labels("graphql").inc()
                route = route_of(scope)
                log.info("websocket open %s", route, extra={"route": route})
            elif message["type"] == "websocket.close":
                code = int(message.get("code", 1000))
            await send(message)

        try:
            await self.app(scope, watch_receive, watch_send)
        finally:
            if accepted:
                metrics.WS_CONNECTIONS.labels("graphql").dec()
            route = route_of(scope)
            log.info(
                "websocket close %s code=%d",
                route,
                code,
                extra={"route": route, "close_code": code, "accepted": accepted},
            )
            logs.end(token)
