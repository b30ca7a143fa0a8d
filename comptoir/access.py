"""One access line and the HTTP metrics per request; request ids.

``X-Request-ID`` is taken from the request when a trusted proxy sent it
(and it looks like an id), otherwise generated; either way it is echoed
back and carried by every log line written while serving the request.
WebSocket connections to the app (GraphQL over WS on ``/graphql``) get one
line when they open and one when they close, with the close code.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import logs, metrics

log = logging.getLogger("comptoir.access")

REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
UNMATCHED = "unmatched"
CLIENT_CLOSED_REQUEST = 499
ABNORMAL_CLOSURE = 1006


# A version 4 UUID's hex (as ``uuid.uuid4().hex``) from 16 random bytes,
# without building the UUID object: its version and variant bits set.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_request_id() -> str:
    """A fresh request id: what ``uuid.uuid4().hex`` gives."""
    return f"{(int.from_bytes(os.urandom(16)) & _UUID4_CLEAR) | _UUID4_SET:032x}"


# The metrics' children by labels: ``labels()`` checks and locks on every
# call. Bounded (methods come from clients); past the bound, ``labels()``.
CHILDREN_MAX = 4096
_COUNTED: dict[tuple[str, str, str], Counter] = {}
_TIMED: dict[tuple[str, str], Histogram] = {}


def _count(method: str, route: str, status: str, elapsed: float) -> None:
    key = (method, route, status)
    counter = _COUNTED.get(key)
    if counter is None:
        counter = metrics.HTTP_REQUESTS.labels(method, route, status)
        if len(_COUNTED) < CHILDREN_MAX:
            _COUNTED[key] = counter
    counter.inc()
    timed = (method, route)
    histogram = _TIMED.get(timed)
    if histogram is None:
        histogram = metrics.HTTP_LATENCY.labels(method, route)
        if len(_TIMED) < CHILDREN_MAX:
            _TIMED[timed] = histogram
    histogram.observe(elapsed)


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
        return new_request_id()

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
            _count(method, route, str(status), elapsed)
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
