"""OpenAPI description of the REST meta paths (handlers: ``rest_compat.meta``)."""

from __future__ import annotations

from typing import Any

OPENAPI: dict[str, Any] = {
    "paths": {
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness and database check",
                "responses": {
                    "200": {
                        "description": "Serving",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["status"],
                                    "properties": {"status": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "503": {
                        "description": "Database unavailable",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["status"],
                                    "properties": {"status": {"type": "string"}},
                                }
                            }
                        },
                    },
                },
            }
        },
    },
}
