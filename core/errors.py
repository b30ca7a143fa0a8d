"""One error tree for the whole domain.

::

    ComptoirError                 code                   HTTP
    ├── Unauthenticated           UNAUTHENTICATED        401
    ├── Forbidden                 FORBIDDEN              403
    ├── NotFound                  NOT_FOUND              404
    ├── Conflict                  CONFLICT               409
    ├── PayloadTooLarge           PAYLOAD_TOO_LARGE      413
    ├── BadUserInput              BAD_USER_INPUT         422
    ├── RateLimited               RATE_LIMITED           429 (+ retry_after_ms)
    ├── ServiceUnavailable        SERVICE_UNAVAILABLE    503 (+ retry_after_ms)
    └── InternalError             INTERNAL_SERVER_ERROR  500

Resolvers raise these; each door (GraphQL, REST, WebSocket) maps them once.
Any other exception is a bug: the doors log it and answer
INTERNAL_SERVER_ERROR with a fixed message.

The HTTP answers are built here, once for every path that answers one (the
REST handlers, the GraphQL view, the ASGI middleware): :func:`rest_body`,
:func:`graphql_body` and :func:`http_headers` (``WWW-Authenticate`` on 401,
``Retry-After`` when a retry time is known). GraphQL field errors carry
:meth:`ComptoirError.extensions`; the chat server's frame is ``ws.frames.error``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from core import audit

INTERNAL_MESSAGE = "Internal server error."

# The contract's code for an HTTP status raised outside the domain (routing,
# framework refusals); other 4xx are the client's input.
CODE_BY_STATUS = {
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
}


def code_for_status(status: int) -> str:
    """The contract's code for an HTTP status raised outside the domain."""
    return CODE_BY_STATUS.get(status, "BAD_USER_INPUT" if status < 500 else "INTERNAL_SERVER_ERROR")


def retry_after_ms(seconds: float) -> int:
    """A wait as the whole milliseconds a client is told to wait (at least 1)."""
    return max(1, math.ceil(seconds * 1000))


class ComptoirError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = INTERNAL_MESSAGE
    # When to retry, for the errors that know (:class:`RetryLater`).
    retry_after_ms: int | None = None

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or self.default_message
        self.field = field
        super().__init__(self.message)

    def extensions(self) -> dict[str, object]:
        ext: dict[str, object] = {"code": self.code}
        if self.field:
            ext["field"] = self.field
        return ext


class Unauthenticated(ComptoirError):
    code = "UNAUTHENTICATED"
    status = 401
    default_message = "Authentication required."


class Forbidden(ComptoirError):
    code = "FORBIDDEN"
    status = 403
    default_message = "You are not allowed to do this."

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        # Raised only to refuse: every one is an authorization denial to log.
        audit.denied(self.message)


class NotFound(ComptoirError):
    code = "NOT_FOUND"
    status = 404
    default_message = "Not found."


class Conflict(ComptoirError):
    code = "CONFLICT"
    status = 409
    default_message = "Conflict."


class PayloadTooLarge(ComptoirError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413
    default_message = "Payload too large."


class BadUserInput(ComptoirError):
    code = "BAD_USER_INPUT"
    status = 422
    default_message = "Invalid input."


class RetryLater(ComptoirError):
    """An error that says when to retry (``retry_after_ms``; REST Retry-After)."""

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms(retry_after)

    def extensions(self) -> dict[str, object]:
        ext = super().extensions()
        ext["retryAfterMs"] = self.retry_after_ms
        return ext


class RateLimited(RetryLater):
    code = "RATE_LIMITED"
    status = 429
    default_message = "Too many requests; retry later."


class ServiceUnavailable(RetryLater):
    """A dependency (the pub/sub broker) is away for now."""

    code = "SERVICE_UNAVAILABLE"
    status = 503
    default_message = "Temporarily unavailable; retry later."


class InternalError(ComptoirError):
    pass


def rest_body(
    code: str, message: str, *, field: str | None = None, retry_after_ms: int | None = None
) -> dict[str, Any]:
    """The REST door's error body.

    ``{"error": {"code", "message"}}``, with ``field`` when one input is at
    fault and ``retry_after_ms`` when a retry time is known.
    """
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    if retry_after_ms is not None:
        body["retry_after_ms"] = retry_after_ms
    return {"error": body}


def rest_error_body(error: ComptoirError) -> dict[str, Any]:
    """:func:`rest_body` of a domain error."""
    return rest_body(
        error.code, error.message, field=error.field, retry_after_ms=error.retry_after_ms
    )


def graphql_body(message: str, extensions: dict[str, object]) -> dict[str, Any]:
    """GraphQL over HTTP's error body when no operation ran.

    ``{"errors": [{"message", "extensions": {"code", ...}}]}``.
    """
    return {"errors": [{"message": message, "extensions": extensions}]}


def http_headers(error: ComptoirError) -> dict[str, str]:
    """The headers of an HTTP answer carrying ``error``, on either HTTP door."""
    headers: dict[str, str] = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if error.retry_after_ms is not None:
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after_ms / 1000)))
    return headers
