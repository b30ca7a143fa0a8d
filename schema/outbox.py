"""The outgoing side of a GraphQL WebSocket: written at once, or the reader is cut.

Every message to a graphql-transport-ws socket goes through one
:class:`Outbox`: written at once while the socket drains, queued while it
does not. Past ``GRAPHQL_WS_MAX_QUEUE_BYTES`` queued the client is not
reading: its owner (:mod:`schema.live_transport`) ends its operations and
closes it with 1008, as the chat server does. A slow client costs that much
memory at most, and never delays the others.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Coroutine, Generator
from typing import Any

from starlette.websockets import WebSocket
from websockets.exceptions import InvalidState

from core import metrics, wire

GRAPHQL = "graphql"  # the server label of this door's metrics
RAW_SEND = "comptoir.raw_send"
_FRAMES_OUT = metrics.WS_FRAMES.labels(GRAPHQL, "out")


class _Resume:
    """Awaits the rest of a coroutine that was started by hand and suspended
    at ``first`` (the future it waits for)."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, None], first: Any) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Generator[Any, Any, None]:
        waiting = self.first
        while True:
            try:
                value = yield waiting
            except BaseException as exc:  # cancellation: pass it on
                try:
                    waiting = self.coro.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                waiting = self.coro.send(value)
            except StopIteration:
                return


def _server_protocol(websocket: WebSocket) -> Any:
    """The server's protocol object behind a socket, when it is uvicorn's
    websockets-sansio one (the default, ``uvicorn==0.54`` is pinned): it
    lets a fan-out write frames and read the transport's write buffer
    without going through the ASGI layers, as ``websockets.broadcast``
    does. None otherwise (the ASGI path is then used)."""
    send = websocket.scope.get(RAW_SEND)
    protocol = getattr(send, "__self__", None)
    needed = ("conn", "transport", "close_sent", "disconnected")
    if protocol is None or not all(hasattr(protocol, name) for name in needed):
        return None
    return protocol


class Outbox:
    """A socket's outgoing messages: written at once, or the reader is cut.

    ``push`` never blocks. On uvicorn's websockets-sansio protocol the text
    frame goes straight to the transport, after a look at its write buffer:
    past ``max_bytes`` the client has stopped reading and ``on_overflow`` is
    called instead (what the chat server does). Elsewhere the ASGI ``send``
    is run by hand: it returns without suspending while the socket drains;
    when it suspends, a writer task finishes it and then writes what was
    queued meanwhile, in order, up to ``max_bytes``.
    """

    __slots__ = (
        "_writer",
        "closed",
        "max_bytes",
        "on_overflow",
        "protocol",
        "queue",
        "queued_bytes",
        "ws",
    )

    def __init__(self, ws: WebSocket, max_bytes: int, on_overflow: Any) -> None:
        self.ws = ws
        self.protocol = _server_protocol(ws)
        self.max_bytes = max_bytes
        self.on_overflow = on_overflow
        self.queue: deque[str] | None = None
        self.queued_bytes = 0
        self.closed = False
        self._writer: asyncio.Task[None] | None = None

    @property
    def gone(self) -> bool:
        """Nothing written now would reach the client: this outbox is closed,
        or the connection is closing (a close sent, the server shutting down)."""
        protocol = self.protocol
        if self.closed or protocol is None:
            return self.closed
        return bool(protocol.close_sent or protocol.disconnected or protocol.transport.is_closing())

    def push(self, text: str) -> None:
        if self.push_shared(text, None):
            _FRAMES_OUT.inc()

    def push_shared(self, text: str, frame: bytes | None) -> bool:
        """:meth:`push` ``text``; ``frame``, when given, is it serialized as
        a text frame (:mod:`core.wire`), shared with other sockets. False when
        it was dropped (the socket is closed or closing, or just overflowed).
        Not counted in the metrics: the caller counts a fan-out's writes once."""
        if self.closed:
            return False
        if self.protocol is not None:
            return self._write(text, frame)
        if self._writer is not None:
            assert self.queue is not None
            self.queue.append(text)
            self.queued_bytes += len(text)
            if self.queued_bytes > self.max_bytes:
                self._overflow()
                return False
            return True
        return self._send(text)

    def _overflow(self) -> None:
        self.close()
        self.on_overflow()

    def _write(self, text: str, frame: bytes | None) -> bool:
        protocol = self.protocol
        transport = protocol.transport
        if protocol.close_sent or protocol.disconnected or transport.is_closing():
            self.closed = True
            return False
        if transport.get_write_buffer_size() > self.max_bytes:
            self._overflow()
            return False
        if frame is not None and wire.shareable(protocol.conn):
            transport.write(frame)
            return True
        try:
            protocol.conn.send_text(text.encode())
        except InvalidState:
            self.closed = True
            return False
        transport.write(b"".join(protocol.conn.data_to_send()))
        return True

    def _send(self, text: str) -> bool:
        coro = self.ws.send({"type": "websocket.send", "text": text})
        try:
            waiting = coro.send(None)
        except StopIteration:
            return True
        except Exception:  # the socket is gone; its reader ends the connection
            self.closed = True
            return False
        self.queue = deque()
        self._writer = asyncio.ensure_future(self._drain(_Resume(coro, waiting)))
        return True

    async def _drain(self, first: _Resume) -> None:
        try:
            await first
            while self.queue and not self.closed:
                text = self.queue.popleft()
                self.queued_bytes -= len(text)
                await self.ws.send({"type": "websocket.send", "text": text})
        except Exception:
            self.closed = True
        finally:
            self._writer = None

    def close(self) -> None:
        """Write nothing more (what is queued is dropped)."""
        self.closed = True
        self.queue = None
        self.queued_bytes = 0
        if self._writer is not None:
            self._writer.cancel()
