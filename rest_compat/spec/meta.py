"""OpenAPI description of the REST meta paths (handlers: ``rest_compat.meta``)."""

from __future__ import annotations

from typing import Any

from rest_compat.spec import common as oa

_HEALTH = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string"}},
}
_READY = {
    "type": "object",
    "required": ["status", "database", "broker"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "database": {"type": "string", "enum": ["ok", "down"]},
        "broker": {"type": "string", "enum": ["ok", "down"]},
    },
}
OPENAPI: dict[str, Any] = {
    "schemas": {
        "Health": oa.with_example(_HEALTH, {"status": "ok"}),
        "Ready": oa.with_example(_READY, {"status": "ok", "database": "ok", "broker": "ok"}),
    },
    "paths": {
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness and database check",
                "responses": {
                    **oa.ok("200", oa.ref("Health"), "Serving"),
                    **oa.ok("503", oa.ref("Health"), "Database unavailable"),
                },
            }
        },
        "/ready": {
            "get": {
                "operationId": "ready",
                "summary": "Readiness: the database and the pub/sub broker answer",
                "responses": {
                    **oa.ok("200", oa.ref("Ready"), "Ready"),
                    **oa.ok("503", oa.ref("Ready"), "The database or the broker (named) is down"),
                },
            }
        },
    },
}
