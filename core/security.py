"""Password hashing and access tokens.

bcrypt runs in a thread pool (``BCRYPT_POOL_SIZE``, default one thread): at
cost 12 a hash takes ~350 ms, which on the event loop would freeze every
open connection; one thread keeps a core free for the loop on a two-core
machine, more threads raise login capacity where there are more cores.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import bcrypt
import jwt

from core import metrics
from core.errors import BadUserInput, Unauthenticated

ALGORITHM = "HS256"
MAX_PASSWORD_BYTES = 72
MIN_PASSWORD_CHARS = 8
LEEWAY_SECONDS = 10
# How many verified access tokens a codec remembers (TokenCodec.decode):
# a few hundred bytes each.
VERIFIED_TOKENS_MAX = 4096
T = TypeVar("T")


class _CountedPool(ThreadPoolExecutor):
    """Keeps ``comptoir_bcrypt_queue_depth``: hashes submitted and not done."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        metrics.BCRYPT_QUEUE.inc()
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(lambda _: metrics.BCRYPT_QUEUE.dec())
        return future


class PasswordHasher:
    def __init__(self, rounds: int, workers: int = 1) -> None:
        self.rounds = rounds
        self._pool = _CountedPool(max_workers=workers, thread_name_prefix="bcrypt")
        self._dummy_hash: bytes | None = None

    @staticmethod
    def check_length(password: str) -> bytes:
        raw = password.encode("utf-8")
        if len(raw) > MAX_PASSWORD_BYTES:
            raise BadUserInput(
                f"Password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8.", field="password"
            )
        return raw

    async def _run(self, kind: str, fn: Callable[..., T], *args: Any) -> T:
        result = await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        metrics.BCRYPT_RUNS.labels(kind).inc()
        return result

    async def hash(self, password: str) -> str:
        raw = self.check_length(password)
        hashed = await self._run("hash", bcrypt.hashpw, raw, bcrypt.gensalt(self.rounds))
        return hashed.decode("ascii")

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Check a password; with ``hashed=None`` spend the same time and fail.

        An unknown account must cost as much as a wrong password, or the
        response time tells which emails exist.
        """
        raw = password.encode("utf-8")[:MAX_PASSWORD_BYTES]
        if hashed is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._run(
                    "hash", bcrypt.hashpw, b"comptoir-timing", bcrypt.gensalt(self.rounds)
                )
            await self._run("check", bcrypt.checkpw, raw, self._dummy_hash)
            return False
        try:
            target = hashed.encode("ascii")
        except UnicodeEncodeError:
            return False
        ok: bool = await self._run("check", bcrypt.checkpw, raw, target)
        return ok

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    session_id: uuid.UUID
    expires_at: datetime
    jti: str


@dataclass(frozen=True, slots=True)
class _Verified:
    """A verified token's claims and its time window (Unix seconds)."""

    claims: AccessClaims
    not_before: int  # the later of iat and nbf
    expires: int


class TokenCodec:
    def __init__(self, secret: str, issuer: str, audience: str, ttl: int) -> None:
        self._secret = secret
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        # Tokens this codec verified, by their exact text (see decode).
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    def issue(
        self,
        user_id: int,
        session_id: uuid.UUID,
        now: datetime | None = None,
        *,
        jti: str | None = None,
    ) -> str:
        """A signed access token; the same arguments give the same token."""
        if not self._secret:
            raise RuntimeError("JWT_SECRET is not set: this process may not sign tokens")
        now = now or datetime.now(UTC)
        payload: dict[str, Any] = {
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self.ttl)).timestamp()),
            "jti": jti or uuid.uuid4().hex,
            "iss": self.issuer,
            "aud": self.audience,
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def successor(self, refresh_token: str) -> tuple[str, str]:
        """The refresh token and access-token ``jti`` that rotating
        ``refresh_token`` issues: derived from it under the secret, so a
        retry of the same rotation can give back the same pair, and nobody
        without the secret can compute them."""
        digest = hmac.new(self._secret.encode(), b"refresh:" + refresh_token.encode(), "sha256")
        raw = digest.digest()
        return str(uuid.UUID(bytes=raw[:16], version=4)), raw[16:32].hex()

    def decode(self, token: str, *, remember: bool = True) -> AccessClaims:
        """The claims of a valid access token, else UNAUTHENTICATED.

        Its signature and claims are checked once per token text: a token
        already verified by this codec (the last ``VERIFIED_TOKENS_MAX``)
        is answered from memory, its time window (``nbf``/``iat`` to
        ``exp``, with the leeway) checked again on every use, exactly as
        PyJWT checks it. Only the token is verified here: whether its
        session is still open is read on every request
        (``resolvers.auth.authenticate``). ``remember=False``: a token
        checked once for a long-lived connection is not kept (a thousand
        sockets would keep a thousand entries, about 0.7 KiB each, that
        no later request reads).
        """
        now = time.time()
        known = self._verified.get(token)
        if known is not None:
            if known.not_before <= now + LEEWAY_SECONDS and known.expires > now - LEEWAY_SECONDS:
                return known.claims
            del self._verified[token]  # outside its window: PyJWT says why below
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "sid", "jti", "iss", "aud"]},
            )
            user_id = int(payload["sub"])
            session_id = uuid.UUID(str(payload["sid"]))
            expires = int(payload["exp"])
            expires_at = datetime.fromtimestamp(expires, UTC)
            not_before = max(int(payload["iat"]), int(payload.get("nbf", payload["iat"])))
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError, OSError):
            # OverflowError, OSError: an ``exp`` no datetime can hold (1e20).
            raise Unauthenticated("Invalid or expired token.") from None
        claims = AccessClaims(user_id, session_id, expires_at, str(payload["jti"]))
        if not remember:
            return claims
        self._verified[token] = _Verified(claims, not_before, expires)
        if len(self._verified) > VERIFIED_TOKENS_MAX:
            self._verified.popitem(last=False)
        return claims


def hash_refresh_token(token: str) -> str:
    """Refresh tokens are random UUIDs: a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
