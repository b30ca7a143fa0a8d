"""One open chat connection: who it is, what it listens to, how it is written to.

Two kinds of writes reach a connection:

- replies to its own frames, sent by its handler with backpressure
  (:meth:`Client.reply` waits until the socket drains, and closes the
  connection with 1008 if that takes longer than ``send_timeout``);
- live events, delivered by :mod:`resolvers.live` (the client is a
  ``Listener``) and written without waiting. Before each one
  :meth:`Client.writable` looks at the transport's write buffer: past
  ``max_queue_bytes`` (plus the reply being written, if any) the client has
  stopped reading, and is closed with 1008 instead of being written to. A
  slow client therefore costs at most that much memory and never delays
  the others.

Ordering, replay, dedupe and gap filling are the live module's; this
module only turns an event into its frame. A live event reaches all the
connections of a room in one call (:meth:`Client.deliver_many`): the frame
is rendered, encoded and serialized as a WebSocket frame once
(:mod:`core.wire`), and each connection costs a look at its write buffer
and one write of those shared bytes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.frames import CloseCode
from websockets.protocol import OPEN

from core import metrics, wire
from core.errors import ComptoirError
from models import User
from resolvers import live
from resolvers.events import Event, room_channel
from resolvers.live import SessionWatch
from resolvers.membership_events import MemberLeft
from resolvers.signal_events import PresenceChanged
from ws import event_frames, frames
from ws.limits import TokenBucket

log = logging.getLogger("comptoir.ws")

# Close codes of this server (besides those websockets uses on its own:
# 1007 invalid UTF-8, 1009 frame over 64 KiB, 1011 keepalive timeout).
CLOSE_GOING_AWAY = CloseCode.GOING_AWAY  # 1001: server shutting down
CLOSE_POLICY = CloseCode.POLICY_VIOLATION  # 1008: not reading fast enough
CLOSE_TRY_AGAIN = CloseCode.TRY_AGAIN_LATER  # 1013: broker away past BROKER_GRACE_SECONDS
CLOSE_AUTH = 4001  # token expired, or session revoked (logout, refresh reuse)
CHAT = "chat"  # the server label of this door's metrics


class ClientGone(Exception):
    """The connection is closing: stop handling its frames."""


class _Encoded:
    """The last event's frame, encoded once for every connection it goes to:
    its JSON payload, and that payload as a serialized WebSocket text frame."""

    __slots__ = ("event", "frame", "payload")

    def __init__(self) -> None:
        self.event: Event | None = None
        self.payload: bytes | None = None
        self.frame = b""

    def of(self, event: Event) -> bytes | None:
        if event is not self.event:
            frame = event_frames.event_frame(event)
            self.event, self.payload = event, None if frame is None else frames.encode(frame)
            self.frame = b"" if self.payload is None else wire.text_frame(self.payload)
        return self.payload


_encoded = _Encoded()
_DELIVERIES = metrics.WS_DELIVERIES.labels(CHAT)
_FRAMES_OUT = metrics.WS_FRAMES.labels(CHAT, "out")


_NOBODY: frozenset[int] = frozenset()


class Client:
    """An authenticated connection, as the hub and the handlers see it.

    Slotted: a server holds thousands, idle (no per-instance dict)."""

    __slots__ = (
        "_close_task",
        "_connection",
        "bucket",
        "channels",
        "close_timeout",
        "closing",
        "expires_at",
        "leaving",
        "max_queue_bytes",
        "presence_of",
        "reply_bytes",
        "send_timeout",
        "session_id",
        "user",
        "watch",
    )

    def __init__(
        self,
        connection: ServerConnection,
        user: User,
        *,
        session_id: uuid.UUID,
        expires_at: datetime,
        max_queue_bytes: int,
        send_timeout: float,
        close_timeout: float,
        frame_rate: float,
    ) -> None:
        self._connection = connection
        self.user = user
        self.session_id = session_id
        self.expires_at = expires_at
        self.max_queue_bytes = max_queue_bytes
        self.send_timeout = send_timeout
        self.close_timeout = close_timeout
        # The live channels it listens to: its own user channel and its rooms.
        self.channels: set[str] = set()
        # Presence changes it asked for (a `presence` frame): of these rooms'
        # members (0: of its DM partners). Others are not sent to it.
        # Immutable and shared while empty (most connections never ask; an
        # empty set is 216 bytes): replaced by a new set when it changes.
        self.presence_of: frozenset[int] = _NOBODY
        self.watch: SessionWatch | None = None
        # The room this connection's own `leave` frame is leaving (0: none).
        self.leaving = 0
        self.reply_bytes = 0
        self.closing = False
        # Frames handled per second: bursts of twice the rate.
        self.bucket = TokenBucket(frame_rate, 2 * frame_rate, time.monotonic())
        self._close_task: asyncio.Task[None] | None = None

    def hear_presence(self, room_id: int, on: bool) -> None:
        """Send (or stop sending) presence changes of a room's members
        (``room_id`` 0: of the DM partners)."""
        if on and room_id not in self.presence_of:
            self.presence_of = self.presence_of | {room_id}
        elif not on and room_id in self.presence_of:
            self.presence_of = self.presence_of - {room_id}

    @property
    def connection(self) -> ServerConnection:
        return self._connection

    # --- live side (a resolvers.live Listener: synchronous, never blocks) ----------

    @property
    def user_id(self) -> int:
        """Whose connection it is: a room feed ends it if they leave the room."""
        return self.user.id

    def deliver(self, event: Event) -> None:
        Client.deliver_many(event, [self])

    @staticmethod
    def deliver_many(event: Event, clients: list[Client]) -> None:
        """``event`` to each of ``clients`` (a resolvers.live batch): rendered
        and framed once, then the same bytes written to every socket."""
        if isinstance(event, MemberLeft):
            for client in clients:
                if event.user_id == client.user.id and not client.closing:
                    client._left(event)
            return
        payload = _encoded.of(event)
        if payload is None:
            return
        frame = _encoded.frame
        presence = event.room_id if isinstance(event, PresenceChanged) else None
        sent = 0
        for client in clients:
            if client.closing or (presence is not None and presence not in client.presence_of):
                continue
            try:
                sent += client.write_shared(frame, payload)
            except Exception:  # one socket's failure is not the others'
                log.exception("live delivery to a chat connection failed")
        if sent:
            _DELIVERIES.inc(sent)
            _FRAMES_OUT.inc(sent)

    def write_shared(self, frame: bytes, payload: bytes) -> bool:
        """Write a live event's frame (the serialized ``frame`` of ``payload``)
        unless the client lags (then closing it with 1008); False when not sent."""
        connection = self._connection
        if not self.writable():
            return False
        protocol = connection.protocol
        if connection.send_in_progress is None and wire.shareable(protocol):
            connection.transport.write(frame)
            return True
        if protocol.state is not OPEN:
            return False
        broadcast([connection], payload, text=True)
        return True

    def _left(self, event: MemberLeft) -> None:
        """Its user left the room (on this connection or another, in any
        process): detach it at once, so nothing stored after the leave is
        sent (resolvers.membership_events), and say so with a ``left`` frame
        without ``ref`` unless this connection's own ``leave`` answers it."""
        channel = room_channel(event.room_id)
        self.hear_presence(event.room_id, False)
        if channel not in self.channels:
            return
        self.channels.discard(channel)
        live.get().detach(channel, self)
        if self.leaving == event.room_id:
            return
        frame = {"type": "left", "room": event.room_name, "room_id": event.room_id}
        if self.writable():
            broadcast([self._connection], frames.encode(frame), text=True)
            _FRAMES_OUT.inc()

    def lost(self, error: ComptoirError) -> None:
        self.close_soon(CLOSE_TRY_AGAIN, "chat feed lost; reconnect")

    async def drained(self) -> None:
        """Between replay pages: wait until the socket's write buffer drains
        (bounded in time, as a reply is)."""
        try:
            async with asyncio.timeout(self.send_timeout):
                await self._connection.drain()
        except TimeoutError:
            self.close_soon(CLOSE_POLICY, "too slow: replay not read")
            raise ClientGone from None

    def session_ended(self, error: ComptoirError) -> None:
        self.close_soon(CLOSE_AUTH, error.message)

    def writable(self) -> bool:
        """False (and closing with 1008) once the outgoing buffer is too full."""
        transport = self._connection.transport
        if transport.get_write_buffer_size() > self.max_queue_bytes + self.reply_bytes:
            self.lag_out()
            return False
        return True

    def lag_out(self) -> None:
        """Close a client that does not keep up. It is sent nothing more; the
        close frame waits behind what it has not read yet, so it gets
        ``send_timeout`` to read it before the TCP connection is aborted."""
        self.close_soon(CLOSE_POLICY, "too slow: outgoing buffer full", grace=self.send_timeout)

    # --- handler side --------------------------------------------------------------

    async def reply(self, frame: dict[str, Any]) -> None:
        """Send one frame, waiting for the socket to drain (bounded in time)."""
        data = frames.encode(frame)
        self.reply_bytes = len(data)
        try:
            async with asyncio.timeout(self.send_timeout):
                await self._connection.send(data, text=True)
            _FRAMES_OUT.inc()
        except TimeoutError:
            self.close_soon(CLOSE_POLICY, "too slow: reply not read")
            raise ClientGone from None
        finally:
            self.reply_bytes = 0

    def close_soon(self, code: int, reason: str, *, grace: float | None = None) -> None:
        """Start closing (idempotent); abort the TCP connection if the peer
        does not complete the closing handshake within ``grace`` seconds
        (default: the close timeout)."""
        if self.closing:
            return
        self.closing = True
        if code == CLOSE_POLICY:
            metrics.WS_SLOW_READER_CLOSES.labels(CHAT).inc()
        if self.watch is not None:
            self.watch.cancel()
        wait = self.close_timeout if grace is None else grace
        self._close_task = asyncio.create_task(self._close(code, reason, wait))

    async def wait_closed(self) -> None:
        """Once :meth:`close_soon` has been called: until its close is done
        (a handler returning earlier would close with 1000 instead)."""
        if self._close_task is not None:
            await asyncio.shield(self._close_task)

    async def _close(self, code: int, reason: str, grace: float) -> None:
        try:
            async with asyncio.timeout(grace):
                await self._connection.close(code, reason)
        except TimeoutError:
            self._connection.transport.abort()
        except Exception:  # the connection is going away anyway
            log.debug("closing a connection failed", exc_info=True)
            self._connection.transport.abort()
