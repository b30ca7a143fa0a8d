"""Authentication: register, login, refresh rotation, logout, token checks.

Refresh tokens are random UUIDs, stored only as SHA-256 hashes. Each login
opens an :class:`AuthSession` (a family); a refresh spends the presented
token and issues the next one of the family. Presenting a spent token means
it leaked: the whole family is revoked, and with it every access token that
carries its ``sid``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import BaseORMException
from tortoise.queryset import QuerySet

from core import audit, logs, runtime
from core.errors import BadUserInput, Conflict, Forbidden, NotFound, Unauthenticated
from core.security import AccessClaims, hash_refresh_token
from core.settings import Registration
from core.transactions import transaction
from models import AuthSession, RefreshToken, User
from models.prepared import Prepared
from resolvers import budgets, login_guard, permissions, users, validation
from resolvers.login_guard import REGISTER_THROTTLED

INVALID_CREDENTIALS = "Invalid email or password."
# Pub/sub channel announcing revoked sessions, so that every process closes
# the WebSocket connections opened with them.
SESSIONS_CHANNEL = "sessions"
INVALID_REFRESH = "Invalid or expired refresh token."
# What registering a taken email answers: it does not say why. Registration
# logs in at once (the contract's 201 pair), so a refusal cannot look like a
# success; login's throttle and REGISTER_IP_MAX (see register) bound how fast
# anyone can probe, and this wording gives nothing beyond the refusal itself.
REGISTER_REFUSED = "This email cannot be registered."
# REGISTRATION=closed: what register answers (FORBIDDEN), and what the
# GraphQL and OpenAPI descriptions say of it.
REGISTRATION_CLOSED = "Registration is closed: accounts are created by an operator."
REGISTRATION_RULE = (
    f"Open by default. With REGISTRATION={Registration.CLOSED} it answers FORBIDDEN (REST 403) "
    "to everyone, before its input is read: an operator creates accounts with "
    "`python -m comptoir createuser`."
)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    token_type: str = "bearer"


async def _issue(
    user: User,
    session: AuthSession,
    *,
    refresh: str | None = None,
    issued_at: datetime | None = None,
    jti: str | None = None,
) -> TokenPair:
    rt = runtime.get()
    refresh = refresh or str(uuid.uuid4())
    await RefreshToken.create(
        session=session,
        token_hash=hash_refresh_token(refresh),
        expires_at=datetime.now(UTC) + timedelta(seconds=rt.settings.refresh_token_ttl),
    )
    return _pair(user, session, refresh=refresh, issued_at=issued_at, jti=jti)


def _pair(
    user: User,
    session: AuthSession,
    *,
    refresh: str,
    issued_at: datetime | None = None,
    jti: str | None = None,
) -> TokenPair:
    rt = runtime.get()
    access = rt.tokens.issue(user.id, session.id, issued_at, jti=jti)
    return TokenPair(access, refresh, rt.settings.access_token_ttl, user)


async def _open_session(user: User) -> TokenPair:
    session = await AuthSession.create(id=uuid.uuid4(), user=user)
    return await _issue(user, session)


def require_registration_open() -> None:
    """FORBIDDEN when ``REGISTRATION=closed``: the first thing register does,
    on every door, before its input is read or the database touched."""
    if runtime.get().settings.registration is Registration.CLOSED:
        raise Forbidden(REGISTRATION_CLOSED)


async def register(
    *, email: object, password: object, display_name: object = None, client_ip: str | None
) -> TokenPair:
    """Create a MEMBER account and log it in.

    A registration is a password attempt under login's throttle
    (:func:`login_guard.password_check`, counted before the hash): a taken
    email counts as a failed login on that email from this address, a new
    account as a successful one. Every attempt, new email or taken, also
    spends one of the address's ``REGISTER_IP_MAX`` per login window, and
    both take the same path through the hasher (:func:`users.insert_account`).
    """
    require_registration_open()
    rt = runtime.get()
    account = users.new_account(email=email, password=password, display_name=display_name)
    await budgets.spend(
        f"register:ip:{client_ip}",
        rt.settings.register_ip_max,
        rt.settings.login_window_seconds,
        REGISTER_THROTTLED,
    )
    user: User | None = None
    async with login_guard.registration_check(account.email_key, client_ip) as outcome:
        try:
            user = await users.insert_account(account)
        except Conflict:
            pass  # settled as a failed attempt on leaving the guard
        outcome.ok = user is not None
    if user is None:
        raise Conflict(REGISTER_REFUSED, field="email")
    return await _open_session(user)


async def login(*, email: object, password: object, client_ip: str | None) -> TokenPair:
    rt = runtime.get()
    if not isinstance(email, str) or not isinstance(password, str):
        raise Unauthenticated(INVALID_CREDENTIALS)
    # Look-alike spellings of an address are one account and one counter.
    address = users.email_key(email[:1024])
    # Too long a password is a client error, not a wrong password.
    rt.hasher.check_length(password)
    async with login_guard.password_check(address, client_ip) as outcome:
        # An address the database cannot hold cannot exist: no lookup, same cost.
        user = await User.get_or_none(email_key=address) if validation.storable(address) else None
        ok = await rt.hasher.verify(password, user.password_hash if user else None)
        outcome.ok = ok and user is not None and user.is_active
    if not outcome.ok or user is None:
        audit.login_failed(address, client_ip)
        raise Unauthenticated(INVALID_CREDENTIALS)
    return await _open_session(user)


def _parse_refresh(token: object) -> str:
    if not isinstance(token, str):
        raise Unauthenticated(INVALID_REFRESH)
    try:
        return str(uuid.UUID(token.strip()))
    except ValueError:
        raise Unauthenticated(INVALID_REFRESH) from None


async def refresh(*, refresh_token: object) -> TokenPair:
    """Rotate: spend the token, issue its successor.

    Of concurrent refreshes of one token exactly one spends it (the update
    and the successor's row are one transaction). Within
    ``REFRESH_GRACE_SECONDS`` of that, presenting the spent token again
    gives back the very same pair while its refresh token is unused (a
    client's retry, as OAuth servers allow); any other reuse means the token
    leaked, and the whole family is revoked.
    """
    rt = runtime.get()
    token = _parse_refresh(refresh_token)
    token_hash = hash_refresh_token(token)
    successor, jti = rt.tokens.successor(token)
    # Whole seconds: the successor's access token is rebuilt from this instant.
    now = datetime.now(UTC).replace(microsecond=0)
    async with transaction() as conn:
        spent = (
            await RefreshToken.filter(
                token_hash=token_hash, used_at__isnull=True, expires_at__gt=now
            )
            .using_db(conn)
            .update(used_at=now)
        )
        row = (
            await RefreshToken.filter(token_hash=token_hash)
            .using_db(conn)
            .select_related("session", "session__user")
            .first()
        )
        if row is None:
            raise Unauthenticated(INVALID_REFRESH)
        session = row.session
        usable = session.revoked_at is None and session.user.is_active
        if spent and usable:
            return await _issue(session.user, session, refresh=successor, issued_at=now, jti=jti)
    if spent or row.used_at is None:
        raise Unauthenticated(INVALID_REFRESH)
    grace = timedelta(seconds=rt.settings.refresh_grace_seconds)
    if usable and now - row.used_at <= grace:
        retried = await RefreshToken.filter(
            token_hash=hash_refresh_token(successor), used_at__isnull=True
        ).exists()
        if retried:
            user = session.user
            return _pair(user, session, refresh=successor, issued_at=row.used_at, jti=jti)
    # Reuse of a spent token: it leaked, so the family is revoked.
    audit.refresh_reuse(session.id, session.user.id)
    await _revoke(session.id)
    raise Unauthenticated(INVALID_REFRESH)


async def logout(*, refresh_token: object) -> bool:
    """Revoke the refresh token's family. Unknown tokens are ignored."""
    try:
        token = _parse_refresh(refresh_token)
    except Unauthenticated:
        return True
    row = await RefreshToken.get_or_none(token_hash=hash_refresh_token(token))
    if row is not None:
        await _revoke(row.session_id)
    return True


async def deactivate_user(*, actor: User | None, user_id: object, field: str = "id") -> bool:
    """ADMIN only: the account can no longer log in or refresh, and every
    session of it is revoked as logout does, so every process ends its
    WebSocket connections and subscriptions."""
    admin = permissions.require(permissions.Action.USER_DEACTIVATE, actor)
    target = validation.parse_id(user_id, field)
    if target == admin.id:
        raise BadUserInput("An ADMIN cannot deactivate their own account.", field=field)
    if not await User.filter(id=target).update(is_active=False):
        raise NotFound("User not found.")
    await revoke_user_sessions(target)
    return True


async def revoke_user_sessions(user_id: int) -> None:
    """Revoke every open session of a user, one by one, as logout does."""
    open_ids = await AuthSession.filter(user_id=user_id, revoked_at__isnull=True).values_list(
        "id", flat=True
    )
    for session_id in open_ids:
        await _revoke(session_id)  # type: ignore[arg-type]


async def _revoke(session_id: uuid.UUID) -> None:
    revoked = await AuthSession.filter(id=session_id, revoked_at__isnull=True).update(
        revoked_at=datetime.now(UTC)
    )
    if revoked:
        await runtime.get().pubsub.publish(
            SESSIONS_CHANNEL, {"type": "session_revoked", "session_id": str(session_id)}
        )


def _open_session_user(key: object, *, session_id: uuid.UUID) -> QuerySet[User]:
    return User.filter(sessions__id=session_id, sessions__revoked_at__isnull=True)


# Every authenticated request reads its session's user: one prepared
# statement (models.prepared), so Tortoise renders its SQL once, not per
# request. Read afresh each time: a revoked session or a deactivated user
# is refused at once, on every process.
_OPEN_SESSION_USER = Prepared(User, _open_session_user)


async def authenticate(token: str, *, connection: bool = False) -> tuple[User, AccessClaims]:
    """The user behind an access token, if its session is still open
    (``connection``: for a long-lived connection, whose token is checked
    once: not kept among the verified tokens of per-request auth)."""
    claims = runtime.get().tokens.decode(token, remember=not connection)
    found = await _OPEN_SESSION_USER.objects(session_id=claims.session_id)
    user = found[0] if found else None
    if user is None or user.id != claims.user_id or not user.is_active:
        raise Unauthenticated("Invalid or expired token.")
    logs.set_user(user.id)
    return user, claims


async def session_is_open(session_id: uuid.UUID) -> bool:
    return await AuthSession.filter(id=session_id, revoked_at__isnull=True).exists()


class SessionEnded(Unauthenticated):
    """The session behind a long-lived connection is gone."""


@asynccontextmanager
async def in_session(session_id: uuid.UUID) -> AsyncIterator[None]:
    """Work done for a long-lived connection (a chat WebSocket).

    A user deleted under an open connection takes their sessions along
    unannounced, and the work then fails on the database's foreign keys:
    that is the session's end (SessionEnded), not a server error.
    """
    try:
        yield
    except BaseORMException:
        if await session_is_open(session_id):
            raise
        raise SessionEnded("Your session has ended.") from None


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>'.")
    return token.strip()
