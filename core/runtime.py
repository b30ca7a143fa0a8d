"""The process-wide services the resolvers use, built once at start.

The composition root (``comptoir.app``) calls :func:`start` before serving
and :func:`stop` on shutdown; resolvers read :func:`get`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from core import db
from core.pubsub import PubSub
from core.ratelimit import RateLimiter, build_limiter
from core.security import PasswordHasher, TokenCodec
from core.settings import Settings
from core.startup import reach
from core.storage import LocalStorage, Storage


@dataclass(slots=True)
class Runtime:
    settings: Settings
    hasher: PasswordHasher
    tokens: TokenCodec
    limiter: RateLimiter
    pubsub: PubSub
    storage: Storage


_current: Runtime | None = None
STALE_UPLOAD_SECONDS = 3600.0
# Applying migrations may legitimately take longer than a connection.
MIGRATE_SECONDS = 300.0


def get() -> Runtime:
    if _current is None:
        raise RuntimeError("Comptoir runtime not started")
    return _current


def build(settings: Settings) -> Runtime:
    return Runtime(
        settings=settings,
        hasher=PasswordHasher(settings.bcrypt_rounds, settings.bcrypt_pool_size),
        tokens=TokenCodec(
            settings.jwt_secret,
            settings.jwt_issuer,
            settings.jwt_audience,
            settings.access_token_ttl,
        ),
        limiter=build_limiter(settings.broadcast_url, prefix=settings.pubsub_prefix),
        pubsub=PubSub(settings.broadcast_url, prefix=settings.pubsub_prefix),
        storage=LocalStorage(settings.upload_dir),
    )


async def start(settings: Settings, *, migrate: bool = True) -> Runtime:
    """Connect the database (applying migrations) and pub/sub.

    A failure is a one-line :class:`StartupError` naming the setting and the
    host, and leaves nothing open: a database thread left running would keep
    the process alive after the failure.
    """
    global _current
    runtime = build(settings)
    timeout = settings.startup_timeout
    try:
        await reach(
            "DATABASE_URL",
            settings.database_url,
            db.connect_checked(settings.database_url),
            seconds=timeout,
        )
        if migrate:
            await reach(
                "DATABASE_URL",
                settings.database_url,
                db.migrate(settings.database_url),
                seconds=max(timeout, MIGRATE_SECONDS),
            )
        await reach(
            "BROADCAST_URL", settings.broadcast_url, runtime.pubsub.connect(), seconds=timeout
        )
    except BaseException:
        await _close(runtime)
        raise
    # Uploads cut short by a crash leave partial files; another process may be
    # writing a recent one, so only old ones go.
    await runtime.storage.sweep(older_than=STALE_UPLOAD_SECONDS)
    _current = runtime
    return runtime


async def _close(runtime: Runtime) -> None:
    with contextlib.suppress(Exception):
        await runtime.pubsub.disconnect()
    with contextlib.suppress(Exception):
        await runtime.limiter.close()
    runtime.hasher.close()
    with contextlib.suppress(Exception):
        await db.disconnect()


async def stop() -> None:
    global _current
    runtime, _current = _current, None
    if runtime is None:
        return
    await runtime.pubsub.disconnect()
    await runtime.limiter.close()
    runtime.hasher.close()
    await db.disconnect()
