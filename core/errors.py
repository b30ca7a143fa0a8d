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
"""

from __future__ import annotations

import math
from typing import ClassVar

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


class ComptoirError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = INTERNAL_MESSAGE

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
        self.retry_after_ms = max(1, math.ceil(retry_after * 1000))

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after_ms / 1000))

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
