"""Slow clients are cut: header, body-idle and keep-alive timeouts (issue 11, finding 8).

uvicorn bounds only the idle time between two requests of a kept-alive
connection (``timeout_keep_alive``); a connection that never finishes its
headers, or a body that stops arriving, is held for ever. So:

- :func:`http_protocol` is uvicorn's httptools protocol with a header
  timer: from the connection (or the first byte of the next request) to the
  end of the headers, at most ``HTTP_HEADER_TIMEOUT`` seconds, then a 408
  and the connection is closed. uvicorn takes a protocol class
  (``Config(http=...)``); no maintained ASGI server library offers this as
  a setting short of replacing uvicorn.
- :class:`BodyIdleTimeout` is an ASGI middleware: while a request body is
  incomplete, each read waits at most ``HTTP_BODY_TIMEOUT`` seconds; then
  the request ends with 408 (the handler's partial work is dropped, as for
  a client that disconnects) and the connection is closed.
- The keep-alive timeout is uvicorn's own, set from ``HTTP_KEEPALIVE_TIMEOUT``.

These bound what each socket may hold; they do not bound how many sockets
there are. A reverse proxy (nginx, HAProxy...) is still expected in front
for per-address connection limits, TLS and buffering of slow clients.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from comptoir.middleware import run_refusable, send_error
from comptoir.websocket import LeanWebSocketProtocol
from core.settings import Settings

log = logging.getLogger("comptoir.http")

TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 30\r\nconnection: close\r\n\r\nRequest headers were too slow."
)


def http_protocol(header_timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP protocol, closing connections whose headers do not
    arrive in ``header_timeout`` seconds."""

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                log.info(
                    "closing %s: request headers not complete in %ss", self.client, header_timeout
                )
                self.transport.write(TIMEOUT_RESPONSE)
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


class BodyStalled(Exception):
    pass


class BodyIdleTimeout:
    """408 when a request body stops arriving for ``timeout`` seconds."""

    def __init__(self, app: ASGIApp, *, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False
        path = scope.get("path", "")

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                # After the body, receive() waits for a disconnect (streamed
                # responses listen for one): no timeout there.
                return await receive()
            try:
                # asyncio.timeout, not wait_for: wait_for runs receive() in a
                # task of its own, two more turns of the loop for each body
                # (every POST /graphql) even when the body is already there.
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                raise BodyStalled() from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def answer() -> None:
            await _stalled(send, self.timeout, path)

        if await run_refusable(self.app, scope, timed_receive, send, BodyStalled, answer):
            log.info("request body stalled for %ss on %s", self.timeout, path)


async def _stalled(send: Send, seconds: float, path: str) -> None:
    message = f"The request body stopped arriving for {seconds:g} s."
    await send_error(send, 408, path, "BAD_USER_INPUT", message, close=True)


def uvicorn_config(app: ASGIApp, settings: Settings, **options: Any) -> uvicorn.Config:
    """The HTTP server's configuration, for ``serve`` and the tests alike."""
    return uvicorn.Config(
        app,
        http=http_protocol(settings.http_header_timeout),
        timeout_keep_alive=settings.http_keepalive_timeout,
        lifespan="on",
        # The app's __call__ returns its coroutine rather than being one
        # (comptoir.app.App): uvicorn would take it for an ASGI 2 app.
        interface="asgi3",
        ws=LeanWebSocketProtocol,
        ws_per_message_deflate=False,
        # GraphQL over WebSocket keeps the chat server's keepalive: the slow
        # reader's abort (schema.live_transport) waits exactly this long.
        ws_ping_interval=settings.ws_ping_interval,
        ws_ping_timeout=settings.ws_ping_timeout,
        # X-Forwarded-For is read by core.clientaddr, from TRUSTED_PROXIES only;
        # uvicorn's handling would trust any header sent from 127.0.0.1.
        proxy_headers=False,
        **options,
    )
