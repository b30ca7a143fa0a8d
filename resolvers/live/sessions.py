"""Session end, watched once per process for every live connection.

A live connection (a chat WebSocket, a GraphQL subscription socket) lasts
no longer than the session that opened it: it ends at its token's ``exp``
(no leeway), or when the session is revoked (logout, refresh-token reuse,
user deactivation: ``resolvers.auth`` publishes ``session_revoked``).

The process subscribes to the sessions channel once. After a broker
outage it may have missed revocations, so every watched session is checked
again in the database.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from core.errors import ComptoirError, Unauthenticated
from core.security import AccessClaims
from resolvers import auth

log = logging.getLogger("comptoir.live")

EXPIRED = "Invalid or expired token."
TOKEN_EXPIRED = "token expired"
SESSION_REVOKED = "session revoked"
BACKOFF_FIRST = 0.05
BACKOFF_MAX = 0.5

OnEnd = Callable[[ComptoirError], None]


def seconds_left(claims: AccessClaims) -> float:
    return (claims.expires_at - datetime.now(UTC)).total_seconds()


def check_unexpired(claims: AccessClaims) -> None:
    """Live doors accept no token past its ``exp``, whatever leeway the token
    codec grants elsewhere."""
    if seconds_left(claims) <= 0:
        raise Unauthenticated(EXPIRED)


class SessionWatch:
    """One connection's watch: ``on_end`` is called once, when it ends."""

    __slots__ = ("_ended", "_on_end", "_sessions", "_timer", "claims")

    def __init__(self, sessions: Sessions, claims: AccessClaims, on_end: OnEnd) -> None:
        self._sessions = sessions
        self._on_end = on_end
        self._timer: asyncio.TimerHandle | None = None
        self._ended = False
        self.claims = claims
        self._arm()

    @property
    def session_id(self) -> uuid.UUID:
        return self.claims.session_id

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, seconds_left(self.claims))
        # The error is made when the timer fires: an idle connection keeps no
        # exception object (with its traceback slots) for its whole life.
        self._timer = loop.call_later(delay, self._expired)

    def _expired(self) -> None:
        self.end(Unauthenticated(TOKEN_EXPIRED))

    def renew(self, claims: AccessClaims) -> None:
        """A renewed token (same user): follow its session and its expiry."""
        if self._ended:
            return
        self._sessions.forget(self)
        if self._timer is not None:
            self._timer.cancel()
        self.claims = claims
        self._sessions.remember(self)
        self._arm()

    def end(self, error: ComptoirError) -> None:
        if self._ended:
            return
        self.cancel()
        self._on_end(error)

    def cancel(self) -> None:
        self._ended = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._sessions.forget(self)


class Sessions:
    def __init__(
        self,
        subscribe: Callable[[str], Any],
        probe: Callable[[], Awaitable[None]],
    ) -> None:
        self._subscribe = subscribe
        self._probe = probe
        self._watches: dict[uuid.UUID, set[SessionWatch]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(ready), name="live sessions")
        await ready

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None

    def remember(self, watch: SessionWatch) -> None:
        self._watches.setdefault(watch.session_id, set()).add(watch)

    def forget(self, watch: SessionWatch) -> None:
        watches = self._watches.get(watch.session_id)
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del self._watches[watch.session_id]

    async def watch(self, claims: AccessClaims, on_end: OnEnd) -> SessionWatch:
        """Watch a session; UNAUTHENTICATED if it has ended already."""
        check_unexpired(claims)
        watch = SessionWatch(self, claims, on_end)
        self.remember(watch)
        # Registered first, checked second: a revocation in between is not missed.
        if not await auth.session_is_open(claims.session_id):
            watch.cancel()
            raise Unauthenticated(SESSION_REVOKED)
        return watch

    def revoke(self, session_id: object) -> None:
        try:
            sid = uuid.UUID(str(session_id))
        except ValueError:
            return
        for watch in list(self._watches.get(sid, ())):
            watch.end(Unauthenticated(SESSION_REVOKED))

    async def _recheck(self) -> None:
        """After an outage: end the watches whose session was revoked meanwhile."""
        for sid in list(self._watches):
            if not await auth.session_is_open(sid):
                self.revoke(sid)

    async def _run(self, ready: asyncio.Future[None]) -> None:
        backoff = BACKOFF_FIRST
        while True:
            try:
                async with self._subscribe(auth.SESSIONS_CHANNEL) as events:
                    await self._probe()
                    if ready.done():
                        await self._recheck()
                    else:
                        ready.set_result(None)
                    backoff = BACKOFF_FIRST
                    async for event in events:
                        if event.get("type") == "session_revoked":
                            self.revoke(event.get("session_id"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("watching revoked sessions: broker lost: %s", exc)
                if not ready.done():
                    ready.set_exception(exc)
                    return
            await asyncio.sleep(backoff)
            backoff = min(BACKOFF_MAX, backoff * 2)
