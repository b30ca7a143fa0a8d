"""The composition root: the app is plain data built from its parts.

One Starlette app serves GraphQL and the REST compatibility paths on
``PORT``; its lifespan starts the runtime (database, migrations, pub/sub)
and the chat WebSocket server on ``WS_PORT`` in the same event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import Scope

import rest_compat
from comptoir import demo, metrics_http
from comptoir.access import AccessLog
from comptoir.middleware import BodyLimit, SecurityHeaders
from comptoir.timeouts import BodyIdleTimeout
from core import assets, runtime
from core.clientaddr import _trusted
from core.etag import CACHE_HEADER
from core.settings import Settings
from resolvers import live, presence, response_cache
from rest_compat.http import EXCEPTION_HANDLERS
from schema import build_schema
from schema.outbox import KeepRawSend
from schema.view import GraphQLView
from ws.server import ChatServer

log = logging.getLogger("comptoir")

MULTIPART_OVERHEAD = 64 * 1024
# The bound of one shutdown step (seconds; the chat server's close timeout
# added for its own): the process stops in bounded time whatever a step waits
# on (uvicorn's graceful timeout bounds the connections before them). The
# steps' own waits are shorter: none is reached in a normal shutdown.
STOP_STEP_SECONDS = 10.0


async def stop_step(name: str, step: Callable[[], Awaitable[None]], seconds: float) -> None:
    """Run one shutdown step for at most ``seconds``: past that it is
    cancelled and named in a warning. A step that fails is logged too; the
    next steps run either way (each gives back what it holds)."""
    timeout = asyncio.timeout(seconds)
    try:
        async with timeout:
            await step()
    except Exception:
        if timeout.expired():
            log.warning("shutdown: %s still running after %g s: cancelled", name, seconds)
        else:
            log.warning("shutdown: %s failed", name, exc_info=True)


def from_trusted_proxy(scope: Scope, settings: Settings) -> bool:
    """Whether the peer is one of TRUSTED_PROXIES (whose X-Request-ID counts)."""
    client = scope.get("client")
    return client is not None and _trusted(str(client[0]), settings.trusted_proxies)


def route_methods(routes: list[BaseRoute]) -> set[str]:
    """Every HTTP method some route answers (Mounts and WebSocket routes have none)."""
    return {method for route in routes for method in getattr(route, "methods", None) or ()}


def build_app(settings: Settings, *, migrate: bool = True) -> Starlette:
    chat = ChatServer(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for note in settings.notes:
            log.warning(note)
        await runtime.start(settings, migrate=migrate)
        try:
            await live.start()
            await response_cache.start(settings)
            if settings.demo:  # its products move the catalogue's version
                await demo.seed_if_empty()
            await presence.start(settings)
            await chat.start()
            log.info("chat WebSocket server on ws://%s:%d", settings.host, chat.port)
            graphql.live_sockets.start()
            try:
                yield
            finally:
                await stop_step("GraphQL WebSockets", graphql.live_sockets.close, STOP_STEP_SECONDS)
                await stop_step(
                    "chat WebSocket server",
                    chat.close,
                    STOP_STEP_SECONDS + settings.ws_close_timeout,
                )
        finally:
            # Presence stores last seen: before the database goes.
            await stop_step("presence", presence.stop, STOP_STEP_SECONDS)
            await stop_step("response cache", response_cache.stop, STOP_STEP_SECONDS)
            await stop_step("live feeds", live.stop, STOP_STEP_SECONDS)
            await stop_step("runtime (database, pub/sub)", runtime.stop, STOP_STEP_SECONDS)

    graphql = GraphQLView(build_schema(settings), settings)
    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        *rest_compat.routes(),
        *metrics_http.routes,
        # GraphiQL's and /docs' pinned scripts and styles (no CDN).
        Mount(assets.PREFIX, app=assets.static_app(), name="static"),
    ]

    routes.append(WebSocketRoute("/graphql", graphql))
    middleware = [
        # Outermost: the GraphQL WebSocket fan-out writes through uvicorn's own send.
        Middleware(KeepRawSend),
        Middleware(AccessLog, trusted=lambda scope: from_trusted_proxy(scope, settings)),
        Middleware(SecurityHeaders),
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            # Every method a route answers, read off the routes, so a new
            # verb (PUT for reactions, read markers, joining) needs no edit here.
            allow_methods=sorted(route_methods(routes) | {"OPTIONS"}),
            allow_headers=["Authorization", "Content-Type", "If-None-Match"],
            expose_headers=[
                "Retry-After",
                "WWW-Authenticate",
                "Content-Disposition",
                "ETag",
                CACHE_HEADER,
            ],
            allow_credentials=False,
            max_age=600,
        ),
        Middleware(
            BodyLimit,
            limit=settings.max_request_bytes,
            multipart_limit=settings.max_upload_bytes + MULTIPART_OVERHEAD,
        ),
        Middleware(BodyIdleTimeout, timeout=settings.http_body_timeout),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.chat = chat
    app.state.graphql = graphql
    app.state.settings = settings
    return app
