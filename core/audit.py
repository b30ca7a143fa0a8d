"""Security events, logged at WARNING on ``comptoir.security``.

Failed logins, lockouts and other rate-limit refusals, refresh-token reuse
and authorization denials: one line each, with the request id (and user,
when known) that :mod:`core.logs` adds, so an operator can alert on them.
"""

from __future__ import annotations

import logging

from core import metrics

log = logging.getLogger("comptoir.security")


def limit_kind(key: str) -> str:
    """The kind of a rate-limit key (``login:pair:<ip>:<email>`` -> ``login:pair``)."""
    return ":".join(key.split(":", 2)[:2])


def rate_limited(key: str, retry_after: float) -> None:
    kind = limit_kind(key)
    metrics.RATE_LIMIT_HITS.labels(kind).inc()
    event = "login lockout" if kind.startswith("login:") else "rate limited"
    log.warning(
        "%s (%s), retry after %.1f s",
        event,
        key,
        retry_after,
        extra={"event": event, "kind": kind, "key": key},
    )


def login_failed(email: str, client_ip: str | None) -> None:
    log.warning(
        "failed login for %s from %s",
        email,
        client_ip,
        extra={"event": "login failed", "email": email, "client_ip": client_ip},
    )


def refresh_reuse(session_id: object, user_id: int) -> None:
    log.warning(
        "refresh token reused: session %s of user %d revoked",
        session_id,
        user_id,
        extra={"event": "refresh reuse", "session_id": str(session_id), "subject": user_id},
    )


def denied(reason: str) -> None:
    log.warning("authorization denied: %s", reason, extra={"event": "denied", "reason": reason})
