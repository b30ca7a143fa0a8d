"""The REST compatibility door: thin handlers over ``resolvers``."""

from __future__ import annotations

from starlette.routing import BaseRoute

from rest_compat import auth, chat, files, meta, openapi, products, resources, spec

MODULES = [meta, auth, products, files, resources, chat]


def routes() -> list[BaseRoute]:
    result: list[BaseRoute] = []
    for module in MODULES:
        result.extend(module.routes)
    result.extend(openapi.routes(spec.build_spec()))
    return result
