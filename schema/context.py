"""The typed per-request context of GraphQL resolvers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from core.security import AccessClaims
from models import User


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    client_ip: str | None
    user: User | None = None
    claims: AccessClaims | None = None
    connection_params: dict[str, Any] | None = None
    # Per-request DataLoaders, created on first use by ``schema.loaders``.
    loaders: dict[str, Any] = field(default_factory=dict)


Info = strawberry.Info[Context, None]
