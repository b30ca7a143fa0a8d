"""The chat WebSocket server, built on ``websockets`` in the app's event loop.

Authentication happens in ``process_request``: a handshake without a valid
token is answered with HTTP 401 and the handler never sees it.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from core.errors import ComptoirError
from core.settings import Settings
from models import User
from resolvers import auth

log = logging.getLogger("comptoir.ws")

MAX_FRAME_BYTES = 64 * 1024


def _token(request: Request) -> str | None:
    header = request.headers.get("Authorization")
    if header:
        return auth.bearer_token(header)
    query = parse_qs(urlsplit(request.path).query)
    tokens = query.get("token")
    return tokens[0] if tokens else None


class ChatServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._server: Server | None = None
        self._users: dict[ServerConnection, User] = {}

    @property
    def port(self) -> int:
        assert self._server is not None
        sockets = list(self._server.sockets)
        return int(sockets[0].getsockname()[1])

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        try:
            token = _token(request)
            if token is None:
                raise ComptoirError("missing token")
            user, _claims = await auth.authenticate(token)
        except ComptoirError:
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers = Headers(
                [*response.headers.raw_items(), ("WWW-Authenticate", "Bearer")]
            )
            return response
        self._users[connection] = user
        return None

    async def _handler(self, connection: ServerConnection) -> None:
        user = self._users[connection]
        try:
            await connection.send(
                json.dumps(
                    {
                        "type": "ready",
                        "user": {
                            "id": user.id,
                            "email": user.email,
                            "display_name": user.display_name,
                        },
                    }
                )
            )
            async for _frame in connection:
                await connection.send(
                    json.dumps(
                        {"type": "error", "code": "BAD_USER_INPUT", "message": "Unknown frame."}
                    )
                )
        finally:
            self._users.pop(connection, None)

    async def start(self) -> None:
        self._server = await serve(
            self._handler,
            self.settings.host,
            self.settings.ws_port,
            process_request=self._process_request,
            max_size=MAX_FRAME_BYTES,
            compression="deflate" if self.settings.ws_compression else None,
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
            self._server = None
