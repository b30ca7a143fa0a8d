"""The OpenAPI 3.1 description of the REST door, one module per domain.

Each module holds the paths of its handler module (``rest_compat.<domain>``)
with their ``operationId`` (stable names for generated clients), examples
and schemas; :func:`build_spec` merges them with the shared components and
tags every operation with its domain.
"""

from __future__ import annotations

from typing import Any

from rest_compat.spec import (
    auth,
    chat,
    common,
    files,
    message_changes,
    meta,
    presence,
    products,
    reactions,
    read_markers,
    resources,
    search,
    sync,
)

# (tag, modules, description): the order of the groups in /docs.
DOMAINS = [
    ("auth", (auth,), "Log in, refresh and log out; register; the current user."),
    ("products", (products,), "The shop's catalogue: anyone reads, ADMINs write."),
    ("files", (files,), "Uploaded files: streamed, private to their owner and ADMINs."),
    ("resources", (resources,), "Internal resources (links and files) for every member."),
    (
        "chat",
        (chat, message_changes, reactions, read_markers, sync, search, presence),
        "Rooms, room messages and direct messages: send, edit, delete, react; read markers, "
        "unread counts, sync, search; presence and typing.",
    ),
    ("meta", (meta,), "Service health."),
]
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


def build_spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas = dict(common.COMPONENTS["schemas"])
    for tag, modules, _ in DOMAINS:
        for module in modules:
            part: dict[str, Any] = module.OPENAPI
            for path, operations in part.get("paths", {}).items():
                for method, operation in operations.items():
                    if method in METHODS:
                        operation.setdefault("tags", [tag])
                paths.setdefault(path, {}).update(operations)
            schemas.update(part.get("schemas", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Comptoir REST compatibility API",
            "version": "1.0.0",
            "description": "Legacy REST paths. GraphQL at /graphql is the primary API.",
        },
        "tags": [{"name": tag, "description": text} for tag, _, text in DOMAINS],
        "paths": paths,
        "components": {"securitySchemes": common.COMPONENTS["securitySchemes"], "schemas": schemas},
    }
