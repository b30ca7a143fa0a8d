"""The Strawberry ASGI view: authentication, context and error bodies."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from core.errors import ComptoirError, Unauthenticated
from core.settings import Settings
from resolvers import auth
from schema.context import Context

log = logging.getLogger("comptoir.graphql")


def client_ip(connection: HTTPConnection) -> str | None:
    return connection.client.host if connection.client else None


def _error_body(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def _token_from_params(params: dict[str, Any]) -> str | None:
    for key in ("Authorization", "authorization"):
        value = params.get(key)
        if isinstance(value, str):
            return auth.bearer_token(value)
    for key in ("token", "accessToken", "access_token"):
        value = params.get(key)
        if isinstance(value, str) and value:
            return value
    return None


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            multipart_uploads_enabled=True,
            max_subscriptions_per_connection=50,
            allowed_origins=settings.cors_origins,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        response: Response
        try:
            response = await self.run(request)
        except ComptoirError as error:
            headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
            response = JSONResponse(
                {"errors": [{"message": error.message, "extensions": error.extensions()}]},
                status_code=error.status,
                headers=headers,
            )
        except HTTPException as error:
            response = JSONResponse(
                _error_body(error.reason, "BAD_USER_INPUT"), status_code=error.status_code
            )
        await response(scope, receive, send)
        await request.close()  # closes files spooled by a multipart request

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> dict[str, str]:
        """A GraphQL multipart request (uploads, see ``schema.files``).

        Starlette spools each file part (1 MiB in memory, the rest in an
        unlinked temporary file) while ``BodyLimit`` counts the body.
        A map that does not fit the operations is the client's error.
        """
        try:
            return await super().parse_multipart(request)
        except (AttributeError, IndexError, TypeError, ValueError):
            raise HTTPException(400, "The multipart map does not match the operations.") from None

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        context = Context(request=request, response=response, client_ip=client_ip(request))
        if isinstance(request, Request):
            token = auth.bearer_token(request.headers.get("authorization"))
            if token is not None:
                context.user, context.claims = await auth.authenticate(token)
        return context

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """graphql-transport-ws ``connection_init``: a valid token or 4403.

        The token comes from the payload (``Authorization: Bearer ...`` or
        ``token``) or, failing that, from the handshake's header.
        """
        try:
            token = _token_from_params(context.connection_params or {})
            if token is None:
                token = auth.bearer_token(context.request.headers.get("authorization"))
            if token is None:
                raise Unauthenticated()
            context.user, context.claims = await auth.authenticate(token)
        except ComptoirError:
            raise ConnectionRejectionError() from None
        return None
