"""The Strawberry ASGI view: authentication, context and error bodies.

It speaks GraphQL over HTTP (https://graphql.github.io/graphql-over-http/):

- the response media type follows ``Accept``: ``application/graphql-response+json``
  when the client prefers it, ``application/json`` otherwise (and when the
  header is missing or names neither);
- a request error (the document does not parse or validate, or a variable
  does not coerce) has no ``data`` entry; it is a 400 under
  ``application/graphql-response+json`` and a 200 under ``application/json``;
- a body that is not a GraphQL request (bad JSON, wrong content type such as
  ``text/plain`` or a form, a ``query`` that is not a string...) is a 400,
  a mutation over GET is a 405 with ``Allow: POST``;
- batches (a JSON array of operations) hold at most ``GRAPHQL_MAX_BATCH``
  operations, run one after the other, each with its own context.

Every error body is ``{"errors": [{"message", "extensions": {"code"}}]}``
(``core.errors.graphql_body``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType

from core import etag, storage
from core.clientaddr import client_address
from core.errors import (
    ComptoirError,
    Unauthenticated,
    code_for_status,
    graphql_body,
    http_headers,
)
from core.settings import Settings
from resolvers import auth, files
from schema import apq, http_request
from schema import response_cache as cache
from schema.context import Context
from schema.files import UploadRequestAdapter
from schema.graphiql import GRAPHIQL_HTML
from schema.http_request import GRAPHQL_RESPONSE, JSON, response_media_type
from schema.live_socket import CheckedWebSocketAdapter
from schema.live_transport import LiveSockets, LiveTransportHandler


def _is_request_error(result: ExecutionResult) -> bool:
    """Refused before execution: no field ran, so no error has a path."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(e.path is None for e in errors)


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
    request_adapter_class = UploadRequestAdapter
    websocket_adapter_class = CheckedWebSocketAdapter
    graphql_transport_ws_handler_class = LiveTransportHandler

    def __init__(self, schema: BaseSchema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            multipart_uploads_enabled=True,
            max_subscriptions_per_connection=settings.graphql_ws_max_subscriptions,
            allowed_origins=settings.cors_origins,
        )
        self.max_batch = settings.graphql_max_batch
        self.live_sockets = LiveSockets(settings)
        self.trusted_proxies = settings.trusted_proxies
        self.persisted = apq.PersistedQueries(settings.apq_max_entries)
        self.cache_decisions = cache.Decisions(schema)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            # HEAD is GET without the body (RFC 9110, 9.3.2).
            async def send_head(message: Message) -> None:
                if message["type"] == "http.response.body":
                    message = {**message, "body": b""}
                await send(message)

            await self({**scope, "method": "GET"}, receive, send_head)
            return
        request = Request(scope, receive)
        media_type = response_media_type(request.headers.get("accept"))
        request.state.request_error = request.state.batch = False
        request.state.cache = None  # the response cache's Lookup, when it has one
        response: Response
        try:
            response = await self.run(request)
        except ComptoirError as error:
            response = self._error(
                error.message, error.extensions(), error.status, http_headers(error)
            )
        except HTTPException as error:
            code = code_for_status(error.status_code)
            headers = {}
            if error.status_code == 405:
                # A mutation over GET may be POSTed; other methods may GET too.
                headers["Allow"] = "POST" if request.method == "GET" else "GET, POST"
            response = self._error(error.reason, {"code": code}, error.status_code, headers)
        else:
            if (
                response.media_type == JSON
                and request.state.request_error
                and not request.state.batch
            ):
                response.status_code = 400 if media_type == GRAPHQL_RESPONSE else 200
        if response.media_type == JSON and media_type == GRAPHQL_RESPONSE:
            response.headers["content-type"] = GRAPHQL_RESPONSE
        if request.method == "GET" and not request.state.request_error:
            response = etag.conditional(request, response)
        try:
            await response(scope, receive, send)
        finally:
            await request.close()  # closes files spooled by a multipart request

    def websocket(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """What ``__call__`` does for a WebSocket, as an ASGI app without a
        frame of its own (nor Strawberry's ``__call__``) suspended for the
        connection's life. Awaited by the access log, which drops the
        response object ``run`` ends with."""
        return self.run(WebSocket(scope, receive=receive, send=send))  # type: ignore[return-value]

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(GRAPHIQL_HTML)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # GraphiQL answers GETs only: a POST's query string is not parsed for it.
        # A persisted query over GET has no ``query`` parameter, only its hash.
        if request.method != "GET" or apq.is_persisted_get(request.query_params):
            return False
        return super().should_render_graphql_ide(request)

    @staticmethod
    def _error(
        message: str, extensions: dict[str, object], status: int, headers: dict[str, str]
    ) -> Response:
        return JSONResponse(graphql_body(message, extensions), status_code=status, headers=headers)

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except RecursionError:
            raise HTTPException(422, "The JSON body is nested too deeply.") from None
        except UnicodeDecodeError:
            raise HTTPException(400, "Unable to parse request body as JSON") from None

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        plain = await http_request.plain_post(request, self.parse_json)
        if plain is not None:
            return plain
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData) and not isinstance(data.operation_name, str | None):
            raise HTTPException(400, "The request's `operationName` must be a string or null.")
        return data

    def _validate_batch_request(
        self, request_data: list[GraphQLRequestData], protocol: str
    ) -> None:
        # Called with the raw JSON array, before strawberry reads its items.
        if protocol != "http":
            raise HTTPException(400, "Batching is not supported on streaming responses.")
        if not request_data:
            raise HTTPException(400, "An empty batch has no operation to run.")
        if len(request_data) > self.max_batch:
            raise HTTPException(
                400, f"Too many operations in a batch: at most {self.max_batch} are allowed."
            )
        for item in request_data:
            http_request.check_request(item)

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        if not isinstance(request_data, list):
            return await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        # One after the other, each with its own context: rate limits count
        # every operation exactly, and a batch uses one worker at a time.
        # A batch answers 200 whatever each operation's fate.
        request.state.batch = True
        results = []
        for index, item in enumerate(request_data):
            item_context = context if index == 0 else await self.get_context(request, sub_response)
            results.append(
                await self.execute_single(
                    request, request_adapter, sub_response, item_context, root_value, item
                )
            )
        return results

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Subscriptions are served over WebSocket (graphql-transport-ws);
        # GET runs queries only.
        method = request_adapter.method
        allowed = {OperationType.QUERY}
        if method == "POST":
            allowed.add(OperationType.MUTATION)
        try:
            request_data = self.persisted.resolve(request_data)
        except apq.NotFoundError as missing:
            return ExecutionResult(data=None, errors=[missing.graphql_error()])
        if not getattr(request.state, "batch", True):
            lookup = request.state.cache = await cache.lookup(
                self.cache_decisions,
                request_data.query,
                request_data.operation_name,
                request_data.variables,
                context.user,
            )
            if lookup is not None:
                sub_response.headers[cache.HEADER] = lookup.state
                if lookup.body is not None:
                    return cache.CachedResult(lookup.body)
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from None
        except MissingQueryError:
            raise HTTPException(400, "No GraphQL query found in the request") from None
        except InvalidOperationTypeError as error:
            if error.operation_type == OperationType.SUBSCRIPTION:
                raise HTTPException(
                    400, "Subscriptions are served over WebSocket (graphql-transport-ws)."
                ) from None
            raise HTTPException(
                405, f"{method} runs queries only: send mutations with POST."
            ) from None

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if isinstance(result, cache.CachedResult):
            return result.response  # type: ignore[return-value]
        response = process_result(result)
        if _is_request_error(result):
            # GraphQL over HTTP: a request error has no data entry.
            response.pop("data", None)
            request.state.request_error = True
        lookup = getattr(request.state, "cache", None)
        if lookup is not None and not result.errors:
            stored = cache.CachedResponse(orjson.dumps(response))
            lookup.store(stored.body)
            return stored  # type: ignore[return-value]
        return response

    def encode_json(self, data: object) -> str | bytes:
        """orjson, as the REST door: compact UTF-8 JSON, several times faster
        than Strawberry's ``json.dumps`` on a page of 50 objects; a cached
        body is stored already encoded, by the same encoder, so a hit and a
        miss answer the same bytes (and ETag)."""
        if isinstance(data, cache.CachedResponse):
            return data.body
        return orjson.dumps(data).decode()

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> dict[str, str]:
        """A GraphQL multipart request (uploads, see ``schema.files``).

        Starlette spools each file part (1 MiB in memory, the rest in an
        unlinked temporary file) while ``BodyLimit`` counts the body.
        A map that does not fit the operations is the client's error; a full
        temporary disk is PAYLOAD_TOO_LARGE, as for the upload directory.
        """
        try:
            return await super().parse_multipart(request)
        except (AttributeError, IndexError, TypeError, ValueError):
            raise HTTPException(400, "The multipart map does not match the operations.") from None
        except OSError as error:
            if not storage.is_full(error):
                raise
            raise files.storage_full("temporary storage") from None

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        address = client_address(request.scope, self.trusted_proxies)
        context = Context(request=request, response=response, client_ip=address)
        if isinstance(request, Request):
            token = auth.bearer_token(request.headers.get("authorization"))
            if token is not None:
                context.user, context.claims = await auth.authenticate(token)
            # Read by the upload adapter before it reads a multipart body.
            request.state.viewer = context.user
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
            context.user, context.claims = await auth.authenticate(token, connection=True)
        except ComptoirError:
            raise ConnectionRejectionError() from None
        return None
