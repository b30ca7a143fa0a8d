"""Password hashing and access tokens.

bcrypt runs in a one-thread pool: at cost 12 a hash takes ~350 ms, which on
the event loop would freeze every open connection; one thread keeps a core
free for the loop on a two-core machine.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
import jwt

from core.errors import BadUserInput, Unauthenticated

ALGORITHM = "HS256"
MAX_PASSWORD_BYTES = 72
MIN_PASSWORD_CHARS = 8
LEEWAY_SECONDS = 10


class PasswordHasher:
    def __init__(self, rounds: int, workers: int = 1) -> None:
        self.rounds = rounds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bcrypt")
        self._dummy_hash: bytes | None = None

    @staticmethod
    def check_length(password: str) -> bytes:
        raw = password.encode("utf-8")
        if len(raw) > MAX_PASSWORD_BYTES:
            raise BadUserInput(
                f"Password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8.", field="password"
            )
        return raw

    async def hash(self, password: str) -> str:
        raw = self.check_length(password)
        loop = asyncio.get_running_loop()
        salt = bcrypt.gensalt(self.rounds)
        hashed = await loop.run_in_executor(self._pool, bcrypt.hashpw, raw, salt)
        return hashed.decode("ascii")

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Check a password; with ``hashed=None`` spend the same time and fail.

        An unknown account must cost as much as a wrong password, or the
        response time tells which emails exist.
        """
        raw = password.encode("utf-8")[:MAX_PASSWORD_BYTES]
        loop = asyncio.get_running_loop()
        if hashed is None:
            if self._dummy_hash is None:
                self._dummy_hash = await loop.run_in_executor(
                    self._pool, bcrypt.hashpw, b"comptoir-timing", bcrypt.gensalt(self.rounds)
                )
            await loop.run_in_executor(self._pool, bcrypt.checkpw, raw, self._dummy_hash)
            return False
        try:
            target = hashed.encode("ascii")
        except UnicodeEncodeError:
            return False
        ok: bool = await loop.run_in_executor(self._pool, bcrypt.checkpw, raw, target)
        return ok

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    session_id: uuid.UUID
    expires_at: datetime
    jti: str


class TokenCodec:
    def __init__(self, secret: str, issuer: str, audience: str, ttl: int) -> None:
        self._secret = secret
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl

    def issue(
        self,
        user_id: int,
        session_id: uuid.UUID,
        now: datetime | None = None,
        *,
        jti: str | None = None,
    ) -> str:
        """A signed access token; the same arguments give the same token."""
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

    def decode(self, token: str) -> AccessClaims:
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
            expires_at = datetime.fromtimestamp(int(payload["exp"]), UTC)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError, OSError):
            # OverflowError, OSError: an ``exp`` no datetime can hold (1e20).
            raise Unauthenticated("Invalid or expired token.") from None
        return AccessClaims(user_id, session_id, expires_at, str(payload["jti"]))


def hash_refresh_token(token: str) -> str:
    """Refresh tokens are random UUIDs: a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
