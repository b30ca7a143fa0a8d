"""REST: /health (liveness: the process serves, its database answers) and
/ready (readiness: the database and the pub/sub broker both answer; 503
names what is down, for a load balancer to route around this process)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from resolvers import health
from rest_compat.http import JSONResponse


async def health_check(request: Request) -> Response:
    if await health.database_ok():
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "unavailable"}, status_code=503)


async def ready_check(request: Request) -> Response:
    checks = await health.readiness()
    body: dict[str, object] = {
        "status": "ok" if all(checks.values()) else "unavailable",
        **{name: "ok" if ok else "down" for name, ok in checks.items()},
    }
    return JSONResponse(body, status_code=200 if all(checks.values()) else 503)


routes = [
    Route("/health", health_check, methods=["GET"]),
    Route("/ready", ready_check, methods=["GET"]),
]
