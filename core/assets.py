"""The browser assets of GraphiQL and /docs, shipped in ``core/static/``.

Pages must work with no internet access, so nothing is loaded from a CDN:
the vendored npm files are pinned in ``core/static/manifest.json`` (exact
versions, sha384 of each file; ``make assets`` refreshes them) and served
under ``/static/`` by :func:`static_app`, with the page scripts of our own
(``core/static/comptoir/``). Every URL carries its version or its content
hash, so every answer may be cached for a year (``immutable``), and every
tag carries an ``integrity`` attribute, so a modified file is refused by the
browser.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from html import escape
from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent / "static"
MANIFEST = STATIC_DIR / "manifest.json"
PREFIX = "/static"
CACHE_CONTROL = b"public, max-age=31536000, immutable"
OWN = "comptoir"  # page scripts of our own: core/static/comptoir/


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@cache
def _index() -> dict[str, tuple[str, str]]:
    """``package/file`` -> (URL, integrity), from the manifest and our own files."""
    index: dict[str, tuple[str, str]] = {}
    packages = json.loads(MANIFEST.read_text())["packages"]
    for name, entry in packages.items():
        for file, integrity in entry["files"].items():
            url = f"{PREFIX}/{name}@{entry['version']}/{file}"
            index[f"{name}/{file}"] = (url, integrity)
    for path in sorted((STATIC_DIR / OWN).iterdir()):
        integrity = sri(path.read_bytes())
        version = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        index[f"{OWN}/{path.name}"] = (f"{PREFIX}/{OWN}/{path.name}?v={version}", integrity)
    return index


def script(asset: str) -> str:
    url, integrity = _index()[asset]
    return f'<script src="{escape(url)}" integrity="{integrity}" crossorigin="anonymous"></script>'


def stylesheet(asset: str) -> str:
    url, integrity = _index()[asset]
    return (
        f'<link rel="stylesheet" href="{escape(url)}" integrity="{integrity}" '
        'crossorigin="anonymous">'
    )


class _ImmutableStaticFiles(StaticFiles):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in {200, 304}:
                headers = [*message.get("headers", []), (b"cache-control", CACHE_CONTROL)]
                message["headers"] = headers
            await send(message)

        await super().__call__(scope, receive, send_cached)


def static_app() -> StaticFiles:
    """Serves ``core/static/`` (mount it at :data:`PREFIX`)."""
    return _ImmutableStaticFiles(directory=STATIC_DIR)
