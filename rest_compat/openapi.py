"""``/openapi.json`` and its docs page ``/docs`` (swagger-ui, served from here).

The description itself is built by ``rest_compat.spec``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from core import assets
from rest_compat.http import JSONResponse

DOCS_HTML = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Comptoir REST API</title>
<link rel="icon" href="data:,">
{assets.stylesheet("swagger-ui-dist/swagger-ui.css")}
</head><body><div id="ui"></div>
{assets.script("swagger-ui-dist/swagger-ui-bundle.js")}
{assets.script("comptoir/docs.js")}
<noscript>The description is at <a href="/openapi.json">/openapi.json</a>.</noscript>
</body></html>"""


def routes(spec: dict[str, Any]) -> list[Route]:
    async def openapi_json(request: Request) -> Response:
        return JSONResponse(spec)

    async def docs(request: Request) -> Response:
        return HTMLResponse(DOCS_HTML)

    return [
        Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False),
        Route("/docs", docs, methods=["GET"], include_in_schema=False),
    ]
