"""graphql-transport-ws for Comptoir: caps, a bounded outbox, the fan-out.

Strawberry's handler keeps the protocol (``connection_init``/``ack``,
``ping``/``pong``, ``subscribe``, ``next``/``error``/``complete``, close
codes 4400/4401/4403/4408/4409/4429). This subclass adds:

- **Caps.** A user holds at most ``GRAPHQL_WS_MAX_CONNECTIONS_PER_USER``
  acknowledged connections, across processes with Redis (leases,
  :mod:`core.leases`); the next ``connection_init`` is closed with 4429.
  A process holds at most ``GRAPHQL_WS_MAX_CONNECTIONS`` (close 1013). A
  connection runs at most ``GRAPHQL_WS_MAX_SUBSCRIPTIONS`` operations at a
  time; one more gets an ``error`` message with BAD_USER_INPUT.
- **A bounded outbox** (:mod:`schema.outbox`). Past
  ``GRAPHQL_WS_MAX_QUEUE_BYTES`` queued the client is not reading: its
  operations end and it is closed with 1008, as the chat server does.
- **The fan-out.** Each operation's ``next`` payloads of live subscriptions
  come from :mod:`schema.fanout`, written straight to the outbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.types.unset import UnsetType

from core import metrics
from core.leases import Refusal, UserConnections
from core.settings import Settings
from resolvers import presence
from schema.context import Context
from schema.fanout import TARGET, Fanout, Handover, Subscriber
from schema.outbox import GRAPHQL, Outbox

if TYPE_CHECKING:
    from schema.view import GraphQLView

log = logging.getLogger("comptoir.graphql")

# Open connections, for the subscriptions gauge (read at scrape time).
_OPEN: weakref.WeakSet[LiveTransportHandler] = weakref.WeakSet()
metrics.WS_SUBSCRIPTIONS.labels(GRAPHQL).set_function(
    lambda: sum(len(handler.operations) for handler in list(_OPEN))
)
CLOSE_TRY_AGAIN = 1013  # the process holds too many connections
CLOSE_SLOW = 1008  # the client does not read what it is sent
CLOSE_TOO_MANY = 4429  # the user holds too many connections
TOO_MANY_CONNECTIONS = "Too many connections for this user."
BUSY = "Too many connections."
SLOW_READER = "Not reading fast enough."


class LiveOperation(Operation[Context, None]):
    """An operation whose ``next`` messages the fan-out writes directly.

    Once its subscriber is adopted, the operation has no task: it lives in
    its group until the client completes it, the socket closes, or the
    subscriber ends it (:meth:`finish`).
    """

    __slots__ = ("id_json", "outbox", "subscriber")

    def __init__(self, handler: LiveTransportHandler, *args: Any) -> None:
        super().__init__(handler, *args)
        self.id_json = json.dumps(self.id)
        self.outbox = handler.outbox
        self.subscriber: Subscriber | None = None

    def _current(self) -> bool:
        return not self.completed and self.handler.operations.get(self.id) is self

    def write_shared(self, text: str, frame: bytes) -> bool:
        if not self._current():
            return False
        return self.outbox.push_shared(text, frame)

    def adopt(self, subscriber: Subscriber) -> None:
        self.subscriber = subscriber
        # Read when the operation started, never again: its group keeps
        # the parsed document.
        self.query, self.variables = "", None

    def finish(self, error: GraphQLError | None) -> None:
        if not self._current():
            return
        handler = self.handler
        assert isinstance(handler, LiveTransportHandler)
        self.completed = True
        handler.forget_id(self.id)
        if error is not None:
            payload = {"data": None, "errors": [error.formatted]}
            handler.outbox.push(handler.encode({"id": self.id, "type": "next", "payload": payload}))
        handler.outbox.push(handler.encode({"id": self.id, "type": "complete"}))


class LiveTransportHandler(BaseGraphQLTransportWSHandler[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        view: GraphQLView = self.view  # type: ignore[assignment]
        self.sockets: LiveSockets = view.live_sockets
        ws = self.context.request
        assert isinstance(ws, WebSocket)
        self.outbox = Outbox(ws, self.sockets.settings.graphql_ws_max_queue_bytes, self._slow)
        self._lease: tuple[int, str] | None = None
        _OPEN.add(self)
        # Built in the connection's own task (the ASGI one), which runs
        # handle(); shutdown() forgets it.
        self._task = asyncio.current_task()
        if self._task is not None:
            self.sockets.handlers.add(self._task)

    # --- writes ------------------------------------------------------------------

    def encode(self, message: Mapping[str, object]) -> str:
        text = self.view.encode_json(message)
        assert isinstance(text, str)
        return text

    async def send_message(self, message: Message) -> None:
        self.outbox.push(self.encode(message))

    def _slow(self) -> None:
        """The client stopped reading: end its operations, close it."""
        log.info("closing a GraphQL WebSocket that does not read (1008)")
        metrics.WS_SLOW_READER_CLOSES.labels(GRAPHQL).inc()
        for operation_id in list(self.operations):
            self._end_operation(operation_id)
        task = asyncio.create_task(self.websocket.close(CLOSE_SLOW, SLOW_READER))
        self.sockets.closing.add(task)
        task.add_done_callback(self.sockets.closing.discard)
        protocol = self.outbox.protocol
        if protocol is not None:
            # The close frame waits behind what the client does not read:
            # past the keepalive's patience the connection is dropped.
            settings = self.sockets.settings
            delay = settings.ws_ping_interval + settings.ws_ping_timeout
            asyncio.get_running_loop().call_later(delay, protocol.transport.abort)

    # --- connection ----------------------------------------------------------------

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
            # Not kept for the socket's life (shutdown() skips a None task).
            self.connection_init_timeout_task = None
        payload = message.get("payload", {})
        if not isinstance(payload, dict):
            await self.websocket.close(code=4400, reason="Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.websocket.close(code=4429, reason="Too many initialisation requests")
            return
        self.connection_init_received = True
        self.context.connection_params = payload
        try:
            ack = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError:
            await self.websocket.close(code=4403, reason="Forbidden")
            return
        finally:
            # Read once, by on_ws_connect: the token is not kept for the
            # socket's life, nor are the handshake's headers (which may carry
            # it too); the request's view of them reads this same list.
            self.context.connection_params = None
            headers = self.context.request.scope.get("headers")
            if isinstance(headers, list):
                headers.clear()
        user = self.context.user
        assert user is not None
        lease = uuid.uuid4().hex
        refusal = await self.sockets.connections.acquire(user.id, lease)
        if refusal is Refusal.USER:
            await self.websocket.close(code=CLOSE_TOO_MANY, reason=TOO_MANY_CONNECTIONS)
            return
        if refusal is Refusal.TOTAL:
            await self.websocket.close(code=CLOSE_TRY_AGAIN, reason=BUSY)
            return
        self._lease = (user.id, lease)
        await presence.connected(user.id, lease)
        if isinstance(ack, UnsetType) or ack is None:
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": ack})
        self.connection_acknowledged = True

    async def handle_message(self, message: Message) -> None:
        # Messages still queued once the connection is closing (the server's
        # shutdown sends 1012) are not handled: nothing could answer them, and
        # none may start work that would outlive the runtime.
        if self.outbox.gone or self.sockets.stopping:
            return
        await super().handle_message(message)

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            _OPEN.discard(self)
            if self._task is not None:
                self.sockets.handlers.discard(self._task)
            self.outbox.close()
            if self._lease is not None:
                self.sockets.connections.release(*self._lease)
                presence.disconnected(*self._lease)
                self._lease = None

    # --- operations ------------------------------------------------------------------

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged:
            await self.websocket.close(code=4401, reason="Unauthorized")
            return
        if message["id"] in self.operations:
            reason = f"Subscriber for {message['id']} already exists"
            await self.websocket.close(code=4409, reason=reason)
            return
        limit = self.sockets.settings.graphql_ws_max_subscriptions
        if len(self.operations) >= limit:
            error = GraphQLError(
                f"Too many operations on this connection: at most {limit} at a time.",
                extensions={"code": "BAD_USER_INPUT"},
            )
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )
            return
        payload = message["payload"]
        operation = LiveOperation(
            self,
            message["id"],
            payload["query"],
            payload.get("variables"),
            payload.get("operationName"),
        )
        # The message stays referenced by Strawberry's reader loop until the
        # next one arrives (for ever, on an idle socket): its payload is the
        # operation's now.
        message["payload"] = {}  # type: ignore[typeddict-item]
        operation.task = asyncio.create_task(self.run_operation(operation))
        operation.task.add_done_callback(self._task_done)
        self.operations[message["id"]] = operation

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        assert isinstance(operation, LiveOperation)
        TARGET.set((operation, self.sockets.fanout))
        try:
            await super().run_operation(operation)
        except Handover:
            operation.task = None  # served by its group from now on

    async def cleanup_operation(self, operation_id: str) -> None:
        self._end_operation(operation_id)

    def _end_operation(self, operation_id: str) -> None:
        operation = self.operations.pop(operation_id, None)
        if operation is None:
            return
        # Nothing more is sent for it: a task that finishes its work despite
        # the cancellation (a mutation past its commit) must not then send
        # its result nor de-register an id already gone (strawberry's
        # forget_id: a KeyError logged as a failed task, seen at SIGTERM).
        operation.completed = True
        if isinstance(operation, LiveOperation) and operation.subscriber is not None:
            operation.subscriber.end(None)
        if operation.task is not None:
            operation.task.cancel()


class LiveSockets:
    """What the GraphQL WebSocket connections of this process share."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fanout = Fanout()
        self.connections = UserConnections(
            per_user=settings.graphql_ws_max_connections_per_user,
            total=settings.graphql_ws_max_connections,
            broadcast_url=settings.broadcast_url,
            prefix=settings.pubsub_prefix,
            scope="graphql",
        )
        self.closing: set[asyncio.Task[None]] = set()
        # The connections' handlers (their ASGI tasks) still running.
        self.handlers: set[asyncio.Task[Any]] = set()
        self.stopping = False

    def start(self) -> None:
        self.connections.start()

    async def close(self) -> None:
        """Nothing outlives this: uvicorn has closed every connection (1012)
        and waited for them; handlers still running past its graceful
        timeout (cancelled by it, maybe still unwinding) are cancelled and
        awaited, and so are the fan-out's workers, before the runtime they
        use is stopped."""
        self.stopping = True
        handlers = [task for task in self.handlers if not task.done()]
        if handlers:
            log.warning("GraphQL WebSockets still open at shutdown: %d cancelled", len(handlers))
            for task in handlers:
                task.cancel()
            await asyncio.wait(handlers, timeout=2)
        await self.fanout.close()
        closing = list(self.closing)
        for task in closing:
            task.cancel()
        if closing:
            # Not ``await task`` under suppress(CancelledError): that would also
            # swallow a cancellation of close() itself (its shutdown step's bound).
            await asyncio.wait(closing, timeout=2)
            for task in closing:
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: a socket that was gone already
        await self.connections.close()
