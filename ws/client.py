"""One open chat connection: who it is, what it listens to, how it is written to.

Two kinds of writes reach a connection:

- replies to its own frames, sent by its handler with backpressure
  (:meth:`Client.reply` waits until the socket drains, and closes the
  connection with 1008 if that takes longer than ``send_timeout``);
- events fanned out by the hub, written without waiting. Before each one
  :meth:`Client.accept` looks at the transport's write buffer: past
  ``max_queue_bytes`` (plus the reply being written, if any) the client has
  stopped reading, and is closed with 1008 instead of being written to. A
  slow client therefore costs at most that much memory and never delays
  the others.

Joining a room with ``after`` replays stored messages while live events of
that room are buffered; the buffer is flushed (without the replayed ids)
before the room goes live. See :class:`RoomFeed`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.frames import CloseCode

from models import User
from ws import frames
from ws.limits import TokenBucket

log = logging.getLogger("comptoir.ws")

# Close codes of this server (besides those websockets uses on its own:
# 1007 invalid UTF-8, 1009 frame over 64 KiB, 1011 keepalive timeout).
CLOSE_GOING_AWAY = CloseCode.GOING_AWAY  # 1001: server shutting down
CLOSE_POLICY = CloseCode.POLICY_VIOLATION  # 1008: not reading fast enough
CLOSE_TRY_AGAIN = CloseCode.TRY_AGAIN_LATER  # 1013: pub/sub feed lost
CLOSE_AUTH = 4001  # token expired, or session revoked (logout, refresh reuse)

# Replayed ids are remembered this long after a join, so that a late live
# copy of a replayed message is dropped.
DEDUPE_SECONDS = 10.0
DEDUPE_MAX_IDS = 1000


class ClientGone(Exception):
    """The connection is closing: stop handling its frames."""


class RoomFeed:
    """The state of one joined room for one connection."""

    __slots__ = ("buffer", "buffered_bytes", "seen", "seen_until")

    def __init__(self) -> None:
        # Live events held back during a replay; None once live.
        self.buffer: list[tuple[int, bytes]] | None = None
        self.buffered_bytes = 0
        self.seen: frozenset[int] = frozenset()
        self.seen_until = 0.0

    def start_replay(self) -> None:
        self.buffer = []
        self.buffered_bytes = 0

    def duplicate(self, event_id: int) -> bool:
        if not self.seen:
            return False
        if time.monotonic() > self.seen_until:
            self.seen = frozenset()
            return False
        return event_id in self.seen


class Client:
    """An authenticated connection, as the hub and the handlers see it."""

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
        # channel -> feed; a room feed for room channels, None for the user's own channel.
        self.feeds: dict[str, RoomFeed | None] = {}
        self.reply_bytes = 0
        self.closing = False
        # Frames handled per second: bursts of twice the rate.
        self.bucket = TokenBucket(frame_rate, 2 * frame_rate, time.monotonic())
        self._expiry: asyncio.TimerHandle | None = None
        self._close_task: asyncio.Task[None] | None = None

    @property
    def connection(self) -> ServerConnection:
        return self._connection

    # --- hub side (synchronous, never blocks) ---------------------------------

    def accept(self, channel: str, event_id: int, payload: bytes) -> bool:
        if self.closing or channel not in self.feeds:
            return False
        feed = self.feeds[channel]
        if feed is not None:
            if feed.buffer is not None:
                feed.buffer.append((event_id, payload))
                feed.buffered_bytes += len(payload)
                if feed.buffered_bytes > self.max_queue_bytes:
                    self.lag_out()
                return False
            if feed.duplicate(event_id):
                return False
        return self.writable()

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

    def feed_lost(self) -> None:
        self.close_soon(CLOSE_TRY_AGAIN, "chat feed lost; reconnect")

    # --- replay ------------------------------------------------------------------

    def go_live(self, channel: str, replayed: list[int]) -> None:
        """End a replay: flush buffered events not replayed, then go live.

        Synchronous, so no event can slip between the flush and going live.
        """
        feed = self.feeds.get(channel)
        if feed is None or feed.buffer is None:
            return
        seen = frozenset(replayed[-DEDUPE_MAX_IDS:])
        buffered, feed.buffer, feed.buffered_bytes = feed.buffer, None, 0
        feed.seen = seen
        feed.seen_until = time.monotonic() + DEDUPE_SECONDS
        for event_id, payload in buffered:
            if event_id in seen or self.closing:
                continue
            if self.writable():
                broadcast([self._connection], payload, text=True)

    # --- handler side --------------------------------------------------------------

    async def reply(self, frame: dict[str, Any]) -> None:
        """Send one frame, waiting for the socket to drain (bounded in time)."""
        data = frames.encode(frame)
        self.reply_bytes = len(data)
        try:
            async with asyncio.timeout(self.send_timeout):
                await self._connection.send(data, text=True)
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
        self.cancel_expiry()
        wait = self.close_timeout if grace is None else grace
        self._close_task = asyncio.create_task(self._close(code, reason, wait))

    async def _close(self, code: int, reason: str, grace: float) -> None:
        try:
            async with asyncio.timeout(grace):
                await self._connection.close(code, reason)
        except TimeoutError:
            self._connection.transport.abort()
        except Exception:  # the connection is going away anyway
            log.debug("closing a connection failed", exc_info=True)
            self._connection.transport.abort()

    # --- token expiry ------------------------------------------------------------------

    def schedule_expiry(self, expires_at: datetime) -> None:
        """Close with 4001 at ``expires_at`` (no leeway) unless renewed."""
        self.cancel_expiry()
        self.expires_at = expires_at
        delay = (expires_at - datetime.now(UTC)).total_seconds()
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(max(0.0, delay), self._expire)

    def cancel_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def _expire(self) -> None:
        self._expiry = None
        self.close_soon(CLOSE_AUTH, "token expired")
