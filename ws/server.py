"""The chat WebSocket server, built on ``websockets`` in the app's event loop.

The handshake (``process_request``) refuses, in this order and before any
WebSocket is opened:

- 403 when a browser sends an ``Origin`` that is not in ``CORS_ORIGINS``
  (cross-site WebSocket hijacking; clients sending no ``Origin`` pass);
- 503 when the process holds ``WS_MAX_CONNECTIONS`` connections;
- 401 without a valid, unexpired access token (``Authorization: Bearer``
  or ``?token=``), with nothing else said;
- 429 when the user holds ``WS_MAX_CONNECTIONS_PER_USER`` connections
  (on this process; on all of them with Redis, see :mod:`core.leases`).

Then one coroutine per connection reads frames (:mod:`ws.frames`) and
hands them to :mod:`ws.handlers`. Close codes: 1001 on shutdown, 1003
never (a binary frame gets an ``error`` frame), 1007 invalid UTF-8 and
1009 a frame over 64 KiB (both from websockets), 1008 a client that does
not read what it is sent, 1011 a client that does not answer pings,
1013 the broker stayed away past ``BROKER_GRACE_SECONDS``, 4001 token expired or session revoked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from core import metrics
from core.errors import (
    INTERNAL_MESSAGE,
    ComptoirError,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
)
from core.leases import ConnectionCaps, Refusal, SharedUserCaps
from core.security import AccessClaims
from core.settings import Settings
from models import User
from resolvers import auth, live, presence
from resolvers.events import user_channel
from resolvers.limits import MAX_FRAME_BYTES
from ws import frames
from ws.client import Client, ClientGone
from ws.handlers import Handlers, ready_frame
from ws.limits import TokenBucket

log = logging.getLogger("comptoir.ws")

CHAT = "chat"  # the server label of this door's metrics
ABNORMAL_CLOSURE = 1006
RETRY_AFTER_SECONDS = "5"


def _token(request: Request) -> str | None:
    header = request.headers.get_all("Authorization")
    if header:
        if len(header) > 1:
            raise Unauthenticated("One Authorization header, please.")
        return auth.bearer_token(header[0])
    tokens = parse_qs(urlsplit(request.path).query).get("token")
    return tokens[0] if tokens else None


def origin_allowed(origins: tuple[str, ...], values: list[str]) -> bool:
    """No ``Origin`` (not a browser) passes; a browser's must be listed."""
    if not values:
        return True
    return len(values) == 1 and values[0].rstrip("/") in origins


class ChatServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._server: Server | None = None
        self._handlers: Handlers | None = None
        self._caps = ConnectionCaps(
            per_user=settings.ws_max_connections_per_user, total=settings.ws_max_connections
        )
        self._pending: dict[ServerConnection, tuple[User, AccessClaims]] = {}
        self._clients: set[Client] = set()
        # With Redis, the per-user cap holds across processes.
        self._shared: SharedUserCaps | None = None
        # Shutting down: frames still queued are not handled (never acked,
        # so the client sends them again), and no handler outlives close().
        self._stopping = False

    @property
    def port(self) -> int:
        assert self._server is not None
        sockets = list(self._server.sockets)
        return int(sockets[0].getsockname()[1])

    @property
    def hub(self) -> live.Live:
        """The process's live feeds (shared with GraphQL subscriptions)."""
        return live.get()

    @property
    def connection_count(self) -> int:
        return self._caps.count

    # --- handshake -------------------------------------------------------------------

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        if not origin_allowed(self.settings.cors_origins, request.headers.get_all("Origin")):
            return connection.respond(HTTPStatus.FORBIDDEN, "Origin not allowed.\n")
        if self._caps.full():
            return _busy(connection, HTTPStatus.SERVICE_UNAVAILABLE, "Too many connections.\n")
        try:
            token = _token(request)
            if token is None:
                raise Unauthenticated()
            if "Authorization" in request.headers:
                # Read once: the token is not kept with the connection for its life.
                del request.headers["Authorization"]
            user, claims = await auth.authenticate(token, connection=True)
            live.check_unexpired(claims)
        except ComptoirError:
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        refusal = self._caps.acquire(user.id)
        lease = connection.id.hex
        if refusal is None and self._shared is not None:
            if not await self._shared.acquire(user.id, lease):
                self._caps.release(user.id)
                refusal = Refusal.USER
        if refusal is Refusal.USER:
            return _busy(
                connection, HTTPStatus.TOO_MANY_REQUESTS, "Too many connections for this user.\n"
            )
        if refusal is Refusal.TOTAL:
            return _busy(connection, HTTPStatus.SERVICE_UNAVAILABLE, "Too many connections.\n")
        # The slot is held until the TCP connection ends, whatever happens next.
        self._pending[connection] = (user, claims)
        connection.connection_lost_waiter.add_done_callback(
            lambda _: self._release(connection, user.id, lease)
        )
        return None

    def _release(self, connection: ServerConnection, user_id: int, lease: str) -> None:
        self._pending.pop(connection, None)
        self._caps.release(user_id)
        if self._shared is not None:
            self._shared.release(lease)

    # --- connections ---------------------------------------------------------------------

    def _rebind(self, client: Client, claims: AccessClaims) -> None:
        """A renewed token: follow its session and its expiry."""
        client.session_id = claims.session_id
        client.expires_at = claims.expires_at
        if client.watch is not None:
            client.watch.renew(claims)

    async def _handler(self, connection: ServerConnection) -> None:
        pending = self._pending.pop(connection, None)
        if pending is None:  # released already: the connection is gone
            return
        user, claims = pending
        settings = self.settings
        client = Client(
            connection,
            user,
            session_id=claims.session_id,
            expires_at=claims.expires_at,
            max_queue_bytes=settings.ws_max_queue_bytes,
            send_timeout=settings.ws_ping_interval + settings.ws_ping_timeout,
            close_timeout=settings.ws_close_timeout,
            frame_rate=settings.ws_frame_rate,
        )
        feeds = live.get()
        present = False
        self._clients.add(client)
        metrics.WS_CONNECTIONS.labels(CHAT).inc()
        log.info("chat connection open: user %d", user.id, extra={"user_id": user.id})
        try:
            try:
                # Ends the connection with 4001 at exp, logout or refresh reuse.
                client.watch = await feeds.watch_session(claims, client.session_ended)
            except Unauthenticated as error:
                client.session_ended(error)
                await client.wait_closed()
                return
            own = user_channel(user.id)
            client.channels.add(own)
            await feeds.attach(own, client, after=None)  # DMs are live before `ready`
            await presence.connected(user.id, connection.id.hex)
            present = True
            await client.reply(ready_frame(user, claims.expires_at))
            async for data in connection:
                if client.closing or self._stopping:
                    continue
                await self._on_frame(client, data)
        except (ConnectionClosed, ClientGone):
            pass
        except ServiceUnavailable as error:
            client.lost(error)
            await client.wait_closed()
        finally:
            if present:
                presence.disconnected(user.id, connection.id.hex)
            if client.watch is not None:
                client.watch.cancel()
            for channel in client.channels:
                feeds.detach(channel, client)
            self._clients.discard(client)
            metrics.WS_CONNECTIONS.labels(CHAT).dec()
            code = connection.close_code or ABNORMAL_CLOSURE
            log.info(
                "chat connection close: user %d code=%d",
                user.id,
                code,
                extra={"user_id": user.id, "close_code": code},
            )

    async def _on_frame(self, client: Client, data: str | bytes) -> None:
        metrics.WS_FRAMES.labels(CHAT, "in").inc()
        wait = client.bucket.take(time.monotonic())
        try:
            frame = frames.parse(data)
        except frames.FrameError as error:
            await client.reply(
                frames.error(error.code, error.message, ref=error.ref, field=error.field)
            )
            return
        if wait:
            await client.reply(
                frames.error(
                    RateLimited.code,
                    "Too many frames; slow down.",
                    ref=frame.ref,
                    retry_after_ms=TokenBucket.retry_after_ms(wait),
                )
            )
            return
        try:
            await self._handlers_for().handle(client, frame)
        except ComptoirError as error:
            await client.reply(
                frames.error(
                    error.code,
                    error.message,
                    ref=frame.ref,
                    field=error.field,
                    retry_after_ms=error.retry_after_ms,
                )
            )
        except (ConnectionClosed, ClientGone):
            raise
        except Exception:
            log.exception("chat frame %s failed", type(frame).__name__)
            await client.reply(
                frames.error("INTERNAL_SERVER_ERROR", INTERNAL_MESSAGE, ref=frame.ref)
            )

    def _handlers_for(self) -> Handlers:
        assert self._handlers is not None
        return self._handlers

    # --- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        settings = self.settings
        self._handlers = Handlers(self._rebind)
        # Rooms and the user's own channel, read at scrape time.
        metrics.WS_SUBSCRIPTIONS.labels(CHAT).set_function(
            lambda: sum(len(client.channels) for client in self._clients)
        )
        if settings.broadcast_url.startswith(("redis://", "rediss://")):
            self._shared = SharedUserCaps(
                settings.broadcast_url,
                prefix=settings.pubsub_prefix,
                per_user=settings.ws_max_connections_per_user,
            )
            self._shared.start()
        self._server = await serve(
            self._handler,
            settings.host,
            settings.ws_port,
            process_request=self._process_request,
            server_header=None,
            max_size=MAX_FRAME_BYTES,
            compression="deflate" if settings.ws_compression else None,
            open_timeout=settings.ws_open_timeout,
            ping_interval=settings.ws_ping_interval,
            ping_timeout=settings.ws_ping_timeout,
            close_timeout=settings.ws_close_timeout,
        )

    async def close(self) -> None:
        """Close every connection with 1001, wait briefly, then let go."""
        server, self._server = self._server, None
        self._stopping = True
        if server is not None:
            server.close(close_connections=True)
            try:
                async with asyncio.timeout(self.settings.ws_close_timeout + 1):
                    await server.wait_closed()
            except TimeoutError:
                for client in list(self._clients):
                    client.connection.transport.abort()
                try:
                    async with asyncio.timeout(2):
                        await server.wait_closed()
                except TimeoutError:
                    await _cancel_handlers(server)
        if self._shared is not None:
            await self._shared.close()
            self._shared = None


async def _cancel_handlers(server: Server) -> None:
    """Handlers still busy with a frame past the close timeouts (a slow
    database): cancelled, since the runtime they use is stopped next."""
    tasks = [task for task in server.handler_tasks if not task.done()]
    log.warning("chat connections still open at shutdown: %d handlers cancelled", len(tasks))
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=2)


def _busy(connection: ServerConnection, status: HTTPStatus, text: str) -> Response:
    response = connection.respond(status, text)
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response
