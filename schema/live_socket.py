"""The socket side of a GraphQL WebSocket: messages checked before Strawberry reads them.

Strawberry indexes graphql-transport-ws messages without checking them: a
JSON array, a number or a subscribe without a payload would crash the
connection (1011) instead of closing it with the protocol's 4400.
:class:`CheckedWebSocketAdapter` closes such a connection with 4400.

It reads the socket in one flat loop, as Strawberry's adapter does: a
thousand idle subscriptions each keep that loop suspended, so it is one
generator, not one wrapping another.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from json import JSONDecodeError

from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived


def well_formed(message: object) -> bool:
    """The shape graphql-transport-ws messages must have before Strawberry reads them."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return False
    kind = message["type"]
    if kind in {"subscribe", "complete"} and not isinstance(message.get("id"), str):
        return False
    payload = message.get("payload")
    if kind == "subscribe":
        return (
            isinstance(payload, dict)
            and isinstance(payload.get("query"), str)
            and isinstance(payload.get("variables") or {}, dict)
            and isinstance(payload.get("extensions") or {}, dict)
            and isinstance(payload.get("operationName") or "", str)
        )
    return payload is None or isinstance(payload, dict)


class CheckedWebSocketAdapter(ASGIWebSocketAdapter):
    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        ws = self.ws
        while ws.application_state != WebSocketState.DISCONNECTED:
            try:
                text = await ws.receive_text()
            except KeyError as error:  # a binary frame
                raise NonTextMessageReceived from error
            except WebSocketDisconnect:
                return
            try:
                message = self.view.decode_json(text)
            except JSONDecodeError as error:
                if ignore_parsing_errors:
                    continue
                raise NonJsonMessageReceived from error
            finally:
                text = ""  # not kept while the socket idles
            if not well_formed(message):
                await self.close(4400, "Invalid message")
                return
            yield message
            message = None  # not kept while the socket idles either
