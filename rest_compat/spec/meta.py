"""OpenAPI description of the REST meta paths (handlers: ``rest_compat.meta``)."""

from __future__ import annotations

from typing import Any

from rest_compat.spec import common as oa

_HEALTH = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string"}},
}
OPENAPI: dict[str, Any] = {
    "schemas": {"Health": oa.with_example(_HEALTH, {"status": "ok"})},
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
    },
}
