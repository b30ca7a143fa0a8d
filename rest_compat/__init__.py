"""The REST compatibility door: thin handlers over ``resolvers``."""

from __future__ import annotations

from starlette.routing import BaseRoute

from rest_compat import (
    auth,
    chat,
    files,
    message_changes,
    meta,
    openapi,
    presence,
    products,
    reactions,
    read_markers,
    resources,
    search,
    spec,
    sync,
)

MODULES = [
    meta,
    auth,
    products,
    files,
    resources,
    chat,
    message_changes,
    reactions,
    read_markers,
    sync,
    search,
    presence,
]


def routes() -> list[BaseRoute]:
    result: list[BaseRoute] = []
    for module in MODULES:
        result.extend(module.routes)
    result.extend(openapi.routes(spec.build_spec()))
    return result
