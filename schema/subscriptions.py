"""Subscriptions last no longer than the session that opened them.

A graphql-transport-ws connection authenticates once, in ``connection_init``.
Its subscriptions end with UNAUTHENTICATED when the access token expires or
its session is revoked (logout, refresh-token reuse): the client reconnects
with a fresh token and resumes with ``after``, missing nothing. A room's
subscriptions also end, with NOT_FOUND, when their user leaves the room
(:mod:`resolvers.membership_events`): nothing stored after the leave reaches them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from typing import TypeVar

from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from core.errors import ComptoirError, NotFound, Unauthenticated
from core.security import AccessClaims
from resolvers import auth, live, membership_events
from resolvers.events import Event
from schema.context import Context

log = logging.getLogger("comptoir.graphql")
T = TypeVar("T")
SESSION_ENDED = "The session has ended; reconnect with a valid token."


def graphql_error(error: ComptoirError) -> GraphQLError:
    """Errors raised around a subscription's stream bypass the schema's error
    mapping: they carry their code here."""
    return GraphQLError(error.message, extensions=error.extensions())


def left_room() -> ComptoirError:
    """How a room's subscription ends once its user left the room
    (resolvers.membership_events): NOT_FOUND, as a new one of a private room
    would be."""
    return NotFound(membership_events.LEFT_ROOM, field="room")


def live_claims(context: Context) -> AccessClaims:
    """The connection's claims, if its token has not expired yet."""
    claims = context.claims
    if context.user is None or claims is None:
        raise graphql_error(Unauthenticated(SESSION_ENDED))
    try:
        live.check_unexpired(claims)
    except Unauthenticated:
        raise graphql_error(Unauthenticated(SESSION_ENDED)) from None
    return claims


class _Subscriber:
    """One subscription as a live listener: events queue up for its generator.

    Per subscriber for now; grouped execution replaces it (issue 9 item 5).
    """

    __slots__ = ("queue", "user_id")

    def __init__(self, user_id: int) -> None:
        self.queue: asyncio.Queue[Event | ComptoirError] = asyncio.Queue()
        self.user_id = user_id  # a room feed ends it if they leave the room

    def deliver(self, event: Event) -> None:
        self.queue.put_nowait(event)

    def lost(self, error: ComptoirError) -> None:
        self.queue.put_nowait(error)

    def session_ended(self, error: ComptoirError) -> None:
        self.queue.put_nowait(Unauthenticated(SESSION_ENDED))


async def live_stream(
    claims: AccessClaims, channel: str, after: int | None, render: Callable[[Event], T | None]
) -> AsyncGenerator[T, None]:
    """The rendered events of ``channel`` (after ``after``: stored ones
    first), until the session ends (UNAUTHENTICATED), the broker stays away
    (SERVICE_UNAVAILABLE) or the user leaves the room (NOT_FOUND)."""
    feeds = live.get()
    subscriber = _Subscriber(claims.user_id)
    try:
        watch = await feeds.watch_session(claims, subscriber.session_ended)
    except Unauthenticated:
        raise graphql_error(Unauthenticated(SESSION_ENDED)) from None
    try:
        try:
            await feeds.attach(channel, subscriber, after=after)
        except ComptoirError as error:
            raise graphql_error(error) from None
        while True:
            item = await subscriber.queue.get()
            if isinstance(item, ComptoirError):
                raise graphql_error(item)
            if membership_events.ends(item, claims.user_id):
                raise graphql_error(left_room())
            rendered = render(item)
            if rendered is not None:
                yield rendered
    finally:
        watch.cancel()
        feeds.detach(channel, subscriber)


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
