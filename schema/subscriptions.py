"""Subscriptions last no longer than the session that opened them.

A graphql-transport-ws connection authenticates once, in ``connection_init``.
Its subscriptions end with UNAUTHENTICATED when the access token expires or
its session is revoked (logout, refresh-token reuse): the client reconnects
with a fresh token and resumes with ``after``, missing nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from contextlib import suppress
from datetime import UTC, datetime
from typing import TypeVar

from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from core import runtime
from core.errors import ComptoirError, Unauthenticated
from core.security import AccessClaims
from resolvers import auth
from schema.context import Context

log = logging.getLogger("comptoir.graphql")
T = TypeVar("T")
SESSION_ENDED = "The session has ended; reconnect with a valid token."


def graphql_error(error: ComptoirError) -> GraphQLError:
    """Errors raised around a subscription's stream bypass the schema's error
    mapping: they carry their code here."""
    return GraphQLError(error.message, extensions=error.extensions())


def _seconds_left(claims: AccessClaims) -> float:
    return (claims.expires_at - datetime.now(UTC)).total_seconds()


def live_claims(context: Context) -> AccessClaims:
    """The connection's claims, if its token has not expired yet."""
    claims = context.claims
    if context.user is None or claims is None or _seconds_left(claims) <= 0:
        raise graphql_error(Unauthenticated(SESSION_ENDED))
    return claims


async def _session_end(claims: AccessClaims) -> None:
    """Returns once the token expires or its session is revoked."""
    async with runtime.get().pubsub.subscribe(auth.SESSIONS_CHANNEL) as events:
        if not await auth.session_is_open(claims.session_id):
            return
        session_id = str(claims.session_id)

        async def revoked() -> None:
            async for event in events:
                if event.get("session_id") == session_id:
                    return

        with suppress(TimeoutError):
            await asyncio.wait_for(revoked(), timeout=max(0.0, _seconds_left(claims)))


async def while_session_lasts(
    claims: AccessClaims, stream: AsyncGenerator[T, None]
) -> AsyncGenerator[T, None]:
    """Items of ``stream`` until it ends or the session does (then an error)."""
    ended = asyncio.ensure_future(_session_end(claims))
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            pending = asyncio.ensure_future(anext(stream))
            await asyncio.wait({pending, ended}, return_when=asyncio.FIRST_COMPLETED)
            if not pending.done():
                raise graphql_error(Unauthenticated(SESSION_ENDED))
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield item
    finally:
        for task in (pending, ended):
            if task is not None and not task.done():
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        if not ended.cancelled() and ended.exception() is not None:
            log.warning("session watch failed", exc_info=ended.exception())
        await stream.aclose()


class WebSocketSession(SchemaExtension):
    """Queries and mutations sent over a graphql-transport-ws connection run
    only while the session that opened it lasts, like its subscriptions."""

    async def on_execute(self) -> AsyncGenerator[None, None]:
        context = self.execution_context.context
        if (
            isinstance(context, Context)
            and isinstance(context.request, WebSocket)
            and self.execution_context.operation_type != OperationType.SUBSCRIPTION
        ):
            claims = live_claims(context)
            if not await auth.session_is_open(claims.session_id):
                raise graphql_error(Unauthenticated(SESSION_ENDED))
        yield
