"""REST: /health."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from resolvers import health


async def health_check(request: Request) -> Response:
    if await health.database_ok():
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "unavailable"}, status_code=503)


routes = [Route("/health", health_check, methods=["GET"])]
