"""Configuration read from the environment, validated once at start.

Every variable is listed in the README. A bad value stops the process with a
message naming the variable, never with a traceback from deep inside.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from core.clientaddr import Network, parse_networks
from core.startup import redact

DEMO_JWT_SECRET_NOTE = "demo mode: a random JWT secret was generated for this process"


class ConfigError(ValueError):
    """A configuration value is missing or invalid."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    return _int(env, name, default, low=0, high=65535)


def _database_url(env: Mapping[str, str], data_dir: Path) -> str:
    raw = env.get("DATABASE_URL") or f"sqlite://{data_dir / 'comptoir.sqlite3'}"
    scheme = urlsplit(raw).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "asyncpg"}:
        raise ConfigError(
            "DATABASE_URL must start with sqlite://, postgres:// or postgresql://, "
            f"got {redact(raw)!r}"
        )
    if scheme == "postgresql":
        raw = "postgres" + raw[len("postgresql") :]
    return raw


def _broadcast_url(env: Mapping[str, str]) -> str:
    raw = env.get("BROADCAST_URL") or "memory://"
    scheme = urlsplit(raw).scheme
    if scheme not in {"memory", "redis", "rediss"}:
        raise ConfigError(f"BROADCAST_URL must be memory:// or redis://..., got {redact(raw)!r}")
    return raw


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("CORS_ORIGINS", "")
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin == "*":
            raise ConfigError("CORS_ORIGINS may not be '*': list the allowed origins")
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigError(f"CORS_ORIGINS entries must be http(s)://host[:port], got {origin!r}")
    return origins


class Registration(StrEnum):
    """``REGISTRATION``: who may create an account through ``register``."""

    # Anyone, as the seed contract has it (``make run``, the tests).
    OPEN = "open"
    # Nobody: operators provision accounts with ``python -m comptoir createuser``.
    CLOSED = "closed"


def _registration(env: Mapping[str, str]) -> Registration:
    """``REGISTRATION``; ``ALLOW_REGISTRATION=0``, the older spelling, still
    closes it, and the two may not disagree."""
    raw = (env.get("REGISTRATION") or "").strip().lower()
    legacy = env.get("ALLOW_REGISTRATION")
    older = None
    if legacy is not None and legacy.strip():
        older = Registration.OPEN if _bool(env, "ALLOW_REGISTRATION", True) else Registration.CLOSED
    if not raw:
        return older or Registration.OPEN
    try:
        value = Registration(raw)
    except ValueError:
        choices = " or ".join(r.value for r in Registration)
        raise ConfigError(f"REGISTRATION must be {choices}, got {raw!r}") from None
    if older is not None and older != value:
        raise ConfigError(
            f"REGISTRATION={value} and ALLOW_REGISTRATION={legacy} disagree: set REGISTRATION only"
        )
    return value


def _networks(env: Mapping[str, str], name: str) -> tuple[Network, ...]:
    try:
        return parse_networks(env.get(name, ""))
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


def _metrics_token(env: Mapping[str, str]) -> str:
    token = (env.get("METRICS_TOKEN") or "").strip()
    if token and len(token) < 16:
        raise ConfigError("METRICS_TOKEN must be at least 16 characters long")
    return token


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    ws_port: int = 9001
    database_url: str = "sqlite://data/comptoir.sqlite3"
    broadcast_url: str = "memory://"
    jwt_secret: str = field(default="", repr=False)
    jwt_issuer: str = "comptoir"
    jwt_audience: str = "comptoir"
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    bcrypt_rounds: int = 12
    bcrypt_pool_size: int = 1
    demo: bool = False
    registration: Registration = Registration.OPEN
    max_upload_bytes: int = 25 * 1024 * 1024
    user_quota_bytes: int = 1024 * 1024 * 1024
    upload_dir: Path = Path("data/uploads")
    cors_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    login_max_failures: int = 5
    login_ip_max_failures: int = 30
    login_window_seconds: int = 300
    login_email_slow_after: int = 20
    login_email_slow_seconds: int = 1
    login_ip_concurrency: int = 4
    refresh_grace_seconds: int = 10
    register_ip_max: int = 20
    messages_per_window: int = 30
    messages_window_seconds: int = 10
    rooms_per_window: int = 20
    rooms_window_seconds: int = 300
    http_header_timeout: int = 10
    http_body_timeout: int = 30
    http_keepalive_timeout: int = 5
    message_edit_window_seconds: int = 86400
    message_max_reactions: int = 20
    message_max_mentions: int = 20
    message_max_attachments: int = 10
    max_request_bytes: int = 1024 * 1024
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 15
    graphql_max_tokens: int = 2000
    graphql_max_batch: int = 10
    graphql_max_cost: int = 4000
    graphql_max_directives: int = 50
    graphql_max_fields: int = 500
    apq_max_entries: int = 1000
    # The response cache (resolvers.response_cache): off unless every
    # catalogue write goes through Comptoir (see the README).
    response_cache: bool = False
    response_cache_max_entries: int = 1000
    response_cache_max_bytes: int = 16 * 1024 * 1024
    graphql_ws_max_connections_per_user: int = 20
    graphql_ws_max_connections: int = 10000
    graphql_ws_max_subscriptions: int = 50
    graphql_ws_max_queue_bytes: int = 1024 * 1024
    introspection: bool = True
    graphiql: bool = True
    ws_max_connections_per_user: int = 20
    ws_max_connections: int = 10000
    ws_max_queue_bytes: int = 1024 * 1024
    ws_compression: bool = False
    ws_open_timeout: int = 10
    ws_ping_interval: int = 20
    ws_ping_timeout: int = 20
    ws_close_timeout: int = 5
    ws_frame_rate: int = 50
    pubsub_prefix: str = "comptoir"
    broker_grace_seconds: int = 30
    log_level: str = "info"
    log_format: str = "text"
    startup_timeout: int = 10
    metrics_token: str = field(default="", repr=False)
    # Presence and typing (resolvers.presence, resolvers.typing).
    presence_grace_seconds: int = 5
    presence_lease_seconds: int = 15
    typing_ttl_seconds: int = 5
    typing_throttle_seconds: int = 2
    notes: tuple[str, ...] = ()

    @property
    def production(self) -> bool:
        return not self.demo

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, signing: bool = True) -> Settings:
        """Read and check every setting; ``signing=False`` is for the commands
        that never issue a token (migrate, createuser...): they run without
        ``JWT_SECRET`` (the token codec then refuses to sign)."""
        env = os.environ if env is None else env
        demo = _bool(env, "DEMO", False)
        notes: list[str] = []
        secret = env.get("JWT_SECRET", "")
        if not secret and (signing or demo):
            if not demo:
                raise ConfigError(
                    "JWT_SECRET is required outside demo mode "
                    "(set it to a random string of at least 32 characters, or set DEMO=1)"
                )
            secret = secrets.token_urlsafe(48)
            notes.append(DEMO_JWT_SECRET_NOTE)
        elif secret and len(secret) < 32 and not demo:
            raise ConfigError("JWT_SECRET must be at least 32 characters long")
        data_dir = Path(env.get("DATA_DIR") or "data")
        upload_dir = Path(env.get("UPLOAD_DIR") or data_dir / "uploads")
        log_level = (env.get("LOG_LEVEL") or "info").lower()
        if log_level not in {"debug", "info", "warning", "error"}:
            raise ConfigError(f"LOG_LEVEL must be debug, info, warning or error, got {log_level!r}")
        log_format = (env.get("LOG_FORMAT") or "text").lower()
        if log_format not in {"text", "json"}:
            raise ConfigError(f"LOG_FORMAT must be text or json, got {log_format!r}")
        return cls(
            host=env.get("HOST") or "127.0.0.1",
            port=_port(env, "PORT", 8000),
            ws_port=_port(env, "WS_PORT", 9001),
            database_url=_database_url(env, data_dir),
            broadcast_url=_broadcast_url(env),
            jwt_secret=secret,
            access_token_ttl=_int(env, "ACCESS_TOKEN_TTL", 900, low=10, high=86400),
            refresh_token_ttl=_int(
                env, "REFRESH_TOKEN_TTL", 30 * 24 * 3600, low=60, high=365 * 24 * 3600
            ),
            bcrypt_rounds=_int(env, "BCRYPT_ROUNDS", 12, low=4, high=16),
            bcrypt_pool_size=_int(env, "BCRYPT_POOL_SIZE", 1, low=1, high=64),
            demo=demo,
            registration=_registration(env),
            # GraphQL File.size is an Int: 32 bits.
            max_upload_bytes=_int(env, "MAX_UPLOAD_BYTES", 25 * 1024 * 1024, low=1, high=2**31 - 1),
            user_quota_bytes=_int(env, "USER_QUOTA_BYTES", 1024**3, low=0, high=2**50),
            upload_dir=upload_dir,
            cors_origins=_origins(env),
            trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
            login_max_failures=_int(env, "LOGIN_MAX_FAILURES", 5, low=1, high=10**6),
            login_ip_max_failures=_int(env, "LOGIN_IP_MAX_FAILURES", 30, low=1, high=10**6),
            login_window_seconds=_int(env, "LOGIN_WINDOW_SECONDS", 300, low=1, high=86400),
            login_email_slow_after=_int(env, "LOGIN_EMAIL_SLOW_AFTER", 20, low=1, high=10**6),
            login_email_slow_seconds=_int(env, "LOGIN_EMAIL_SLOW_SECONDS", 1, low=1, high=3600),
            login_ip_concurrency=_int(env, "LOGIN_IP_CONCURRENCY", 4, low=1, high=10**4),
            refresh_grace_seconds=_int(env, "REFRESH_GRACE_SECONDS", 10, low=0, high=300),
            register_ip_max=_int(env, "REGISTER_IP_MAX", 20, low=1, high=10**6),
            messages_per_window=_int(env, "MESSAGES_PER_WINDOW", 30, low=1, high=10**6),
            messages_window_seconds=_int(env, "MESSAGES_WINDOW_SECONDS", 10, low=1, high=3600),
            rooms_per_window=_int(env, "ROOMS_PER_WINDOW", 20, low=1, high=10**6),
            rooms_window_seconds=_int(env, "ROOMS_WINDOW_SECONDS", 300, low=1, high=86400),
            http_header_timeout=_int(env, "HTTP_HEADER_TIMEOUT", 10, low=1, high=3600),
            http_body_timeout=_int(env, "HTTP_BODY_TIMEOUT", 30, low=1, high=3600),
            http_keepalive_timeout=_int(env, "HTTP_KEEPALIVE_TIMEOUT", 5, low=1, high=3600),
            message_edit_window_seconds=_int(
                env, "MESSAGE_EDIT_WINDOW_SECONDS", 86400, low=0, high=10**9
            ),
            message_max_reactions=_int(env, "MESSAGE_MAX_REACTIONS", 20, low=1, high=1000),
            message_max_mentions=_int(env, "MESSAGE_MAX_MENTIONS", 20, low=0, high=80),
            message_max_attachments=_int(env, "MESSAGE_MAX_ATTACHMENTS", 10, low=0, high=100),
            max_request_bytes=_int(env, "MAX_REQUEST_BYTES", 1024 * 1024, low=1024, high=2**31),
            graphql_max_depth=_int(env, "GRAPHQL_MAX_DEPTH", 10, low=1, high=100),
            graphql_max_aliases=_int(env, "GRAPHQL_MAX_ALIASES", 15, low=1, high=10000),
            graphql_max_tokens=_int(env, "GRAPHQL_MAX_TOKENS", 2000, low=10, high=10**6),
            graphql_max_batch=_int(env, "GRAPHQL_MAX_BATCH", 10, low=1, high=1000),
            graphql_max_cost=_int(env, "GRAPHQL_MAX_COST", 4000, low=1, high=10**9),
            graphql_max_directives=_int(env, "GRAPHQL_MAX_DIRECTIVES", 50, low=0, high=10000),
            graphql_max_fields=_int(env, "GRAPHQL_MAX_FIELDS", 500, low=1, high=10**6),
            apq_max_entries=_int(env, "APQ_MAX_ENTRIES", 1000, low=0, high=10**6),
            response_cache=_bool(env, "RESPONSE_CACHE", False),
            response_cache_max_entries=_int(
                env, "RESPONSE_CACHE_MAX_ENTRIES", 1000, low=1, high=10**6
            ),
            response_cache_max_bytes=_int(
                env, "RESPONSE_CACHE_MAX_BYTES", 16 * 1024 * 1024, low=1024, high=2**34
            ),
            graphql_ws_max_connections_per_user=_int(
                env, "GRAPHQL_WS_MAX_CONNECTIONS_PER_USER", 20, low=1, high=10**6
            ),
            graphql_ws_max_connections=_int(
                env, "GRAPHQL_WS_MAX_CONNECTIONS", 10000, low=1, high=10**7
            ),
            graphql_ws_max_subscriptions=_int(
                env, "GRAPHQL_WS_MAX_SUBSCRIPTIONS", 50, low=1, high=10000
            ),
            graphql_ws_max_queue_bytes=_int(
                env, "GRAPHQL_WS_MAX_QUEUE_BYTES", 1024 * 1024, low=1024, high=2**31
            ),
            introspection=_bool(env, "GRAPHQL_INTROSPECTION", demo),
            graphiql=_bool(env, "GRAPHIQL", demo),
            ws_max_connections_per_user=_int(
                env, "WS_MAX_CONNECTIONS_PER_USER", 20, low=1, high=10**6
            ),
            ws_max_connections=_int(env, "WS_MAX_CONNECTIONS", 10000, low=1, high=10**7),
            ws_max_queue_bytes=_int(env, "WS_MAX_QUEUE_BYTES", 1024 * 1024, low=1024, high=2**31),
            ws_compression=_bool(env, "WS_COMPRESSION", False),
            ws_open_timeout=_int(env, "WS_OPEN_TIMEOUT", 10, low=1, high=300),
            ws_ping_interval=_int(env, "WS_PING_INTERVAL", 20, low=1, high=3600),
            ws_ping_timeout=_int(env, "WS_PING_TIMEOUT", 20, low=1, high=3600),
            ws_close_timeout=_int(env, "WS_CLOSE_TIMEOUT", 5, low=1, high=60),
            ws_frame_rate=_int(env, "WS_FRAME_RATE", 50, low=1, high=10**6),
            pubsub_prefix=env.get("PUBSUB_PREFIX") or "comptoir",
            broker_grace_seconds=_int(env, "BROKER_GRACE_SECONDS", 30, low=1, high=86400),
            log_level=log_level,
            log_format=log_format,
            startup_timeout=_int(env, "STARTUP_TIMEOUT", 10, low=1, high=600),
            metrics_token=_metrics_token(env),
            presence_grace_seconds=_int(env, "PRESENCE_GRACE_SECONDS", 5, low=0, high=3600),
            presence_lease_seconds=_int(env, "PRESENCE_LEASE_SECONDS", 15, low=3, high=3600),
            typing_ttl_seconds=_int(env, "TYPING_TTL_SECONDS", 5, low=1, high=60),
            typing_throttle_seconds=_int(env, "TYPING_THROTTLE_SECONDS", 2, low=0, high=60),
            notes=tuple(notes),
        )
