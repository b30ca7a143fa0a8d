"""Database transactions that a cancellation cannot leave half open.

Tortoise's ``in_transaction()`` opens a transaction in steps: on SQLite it
takes the connection's lock, then sends ``BEGIN``; on PostgreSQL it takes a
connection from the pool, then sends ``BEGIN``. It gives them back only from
``__aexit__``, which runs once the opening has finished. A task cancelled
between the two steps (a GraphQL operation whose socket closes, with 1012
at shutdown or when its client goes away; a handler cut by a timeout) kept
the SQLite lock, or the pooled connection, for ever: every later query of the
process waited on it, and so did its shutdown (storing last seen, closing the
pool), until the process was killed.

:func:`transaction` is ``in_transaction()`` whose opening is not cut: a
cancellation that comes while the transaction opens is held back until it
has opened; the transaction is then rolled back and closed, and the
cancellation raised. Waiting is bounded by the transaction ahead (the lock
or a pooled connection coming free) and one ``BEGIN``. The body and the
closing are Tortoise's own, already safe to cancel (rolled back, the lock
and the connection given back in a ``finally``).

Resolvers use this, never ``in_transaction()`` (ruff bans it elsewhere).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from types import TracebackType
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient, TransactionContext
from tortoise.transactions import in_transaction  # noqa: TID251 (wrapped here)


class _Uncut:
    """Awaits ``coro`` to its end in the awaiting task (so in its context:
    Tortoise keeps the open transaction in a context variable). A
    cancellation of the task meanwhile is kept in ``cancelled`` instead of
    being thrown into ``coro``: the task waits on a relay of each future
    that ``coro`` waits on, and a cancellation cancels the relay, never that
    future (an ``aiosqlite`` or ``asyncpg`` call that still runs)."""

    __slots__ = ("cancelled", "coro")

    def __init__(self, coro: Coroutine[Any, Any, BaseDBAsyncClient]) -> None:
        self.coro = coro
        self.cancelled: asyncio.CancelledError | None = None

    def __await__(self) -> Generator[Any, None, BaseDBAsyncClient]:
        loop = asyncio.get_running_loop()
        while True:
            try:
                waiting = self.coro.send(None)
            except StopIteration as done:
                client: BaseDBAsyncClient = done.value
                return client
            if not isinstance(waiting, asyncio.Future):
                # A bare yield (``asyncio.sleep(0)``): the task runs again next turn.
                try:
                    yield None
                except asyncio.CancelledError as cancel:
                    self.cancelled = cancel
                continue
            waiting._asyncio_future_blocking = False
            while not waiting.done():
                relay = loop.create_future()

                def wake(_: object, relay: asyncio.Future[None] = relay) -> None:
                    if not relay.done():
                        relay.set_result(None)

                waiting.add_done_callback(wake)
                try:
                    yield from relay.__await__()
                except asyncio.CancelledError as cancel:
                    self.cancelled = cancel
                    waiting.remove_done_callback(wake)


def transaction() -> Transaction:
    """``async with transaction() as conn:``: Tortoise's ``in_transaction()``,
    safe to cancel at any point (see the module's docstring)."""
    return Transaction()


class Transaction:
    """The context manager of :func:`transaction`."""

    __slots__ = ("_context",)

    def __init__(self) -> None:
        self._context: TransactionContext = in_transaction()

    async def __aenter__(self) -> BaseDBAsyncClient:
        opening = _Uncut(self._context.__aenter__())
        client = await opening
        cancelled = opening.cancelled
        if cancelled is not None:
            await self._context.__aexit__(type(cancelled), cancelled, cancelled.__traceback__)
            raise cancelled
        return client

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._context.__aexit__(exc_type, exc, traceback)
