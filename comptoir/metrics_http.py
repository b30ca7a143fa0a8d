"""``GET /metrics``: the Prometheus exposition, behind ``METRICS_TOKEN``.

Without the setting the path answers 404 (off); with it, only
``Authorization: Bearer <METRICS_TOKEN>`` is served, anything else 401.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import metrics
from core.errors import NotFound, Unauthenticated


async def scrape(request: Request) -> Response:
    expected = request.app.state.settings.metrics_token
    if not expected:
        raise NotFound("Metrics are off: set METRICS_TOKEN.")
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        raise Unauthenticated("The metrics token is required.")
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE_LATEST)


routes = [Route("/metrics", scrape, methods=["GET"], include_in_schema=False)]
