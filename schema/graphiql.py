"""The GraphiQL page (``GET /graphql`` from a browser, when ``GRAPHIQL`` is on).

Its scripts and styles are the pinned files of :mod:`core.assets`, served
by this server with integrity attributes: the page works offline, and keeps
its state (headers with the bearer token included) in sessionStorage.
"""

from __future__ import annotations

from core import assets

GRAPHIQL_HTML = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Comptoir GraphiQL</title>
<link rel="icon" href="data:,">
<style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
{assets.stylesheet("graphiql/graphiql.min.css")}
</head><body>
<div id="graphiql">Loading...</div>
{assets.script("react/umd/react.production.min.js")}
{assets.script("react-dom/umd/react-dom.production.min.js")}
{assets.script("graphiql/graphiql.min.js")}
{assets.script("comptoir/graphiql.js")}
</body></html>
"""
