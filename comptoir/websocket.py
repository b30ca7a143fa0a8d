"""uvicorn's WebSocket protocol (websockets-sansio), lighter per connection.

The app's WebSockets are GraphQL subscriptions (graphql-transport-ws), most
of them idle for hours: what each holds is what a thousand of them cost.
uvicorn's protocol keeps, for a connection's whole life:

- an ``asyncio.Queue`` of received messages: four deques and an Event,
  about 3 KiB, for a queue the ASGI app reads one message at a time;
- an ``asyncio.Event`` for "the transport may be written to": a deque of
  waiters, 0.8 KiB, for a wait that almost never happens;
- the parsed handshake request and response with their headers, about
  3 KiB, that nothing reads once the connection is accepted (the ASGI
  scope has its own copy of the request's headers).

:class:`LeanWebSocketProtocol` is that protocol, frame for frame, with an
:class:`Inbox` and a :class:`Flag` in place of the first two and the
handshake dropped once it is answered. uvicorn takes a protocol class
(``Config(ws=...)``), as it does for HTTP (:mod:`comptoir.timeouts`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class Inbox:
    """The received messages the ASGI app has yet to read: a list, and a
    waiter while the app waits for one (ASGI's ``receive`` has one reader)."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self.items.append(item)
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self.items

    async def get(self) -> Any:
        while not self.items:
            waiter = self.waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                if self.waiter is waiter:
                    self.waiter = None
        return self.items.pop(0)


class Flag:
    """``asyncio.Event``'s ``set``/``clear``/``wait``, with no list of
    waiters until one waits."""

    __slots__ = ("value", "waiters")

    def __init__(self) -> None:
        self.value = True
        self.waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self.value

    def set(self) -> None:
        self.value = True
        waiters, self.waiters = self.waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self.value = False

    async def wait(self) -> bool:
        if self.value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self.waiters is None:
            self.waiters = []
        self.waiters.append(waiter)
        try:
            await waiter
        finally:
            if self.waiters is not None and waiter in self.waiters:
                self.waiters.remove(waiter)
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Answered: uvicorn reads neither again. The request also stays
            # referenced by the websockets parser's suspended frame.
            self.request.headers.clear()
            del self.request, self.response
