"""The pages' assets over HTTP: all served here, pinned, with integrity.

(The pages in a real browser, offline: tests/test_browser_pages.py.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import httpx
import pytest

from core import assets

pytestmark = pytest.mark.once

TAG = re.compile(r'<(?:script src|link rel="stylesheet" href)="([^"]+)" integrity="([^"]+)"')


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/graphql", {"Accept": "text/html"}), ("/docs", {})],
)
async def test_pages_load_only_pinned_files_of_this_server(
    http: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    page = await http.get(path, headers=headers)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text
    assert "https://" not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "font-src 'self' data:" in csp  # GraphiQL embeds its fonts
    tags = TAG.findall(page.text)
    assert len(tags) == page.text.count("<script") + page.text.count('rel="stylesheet"')
    assert len(tags) >= 2
    for url, integrity in tags:
        assert url.startswith("/static/")
        asset = await http.get(url)
        assert asset.status_code == 200, url
        assert sri(asset.content) == integrity, url
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_manifest_pins_exact_versions_and_matches_the_files() -> None:
    manifest = json.loads(assets.MANIFEST.read_text())
    for name, entry in manifest["packages"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", entry["version"]), name
        assert entry["tarball"].startswith("sha512-"), name
        folder = assets.STATIC_DIR / f"{name}@{entry['version']}"
        assert (folder / "LICENSE").is_file(), name
        for file, integrity in entry["files"].items():
            assert sri((folder / file).read_bytes()) == integrity, f"{name}/{file}"


async def test_unknown_static_file_is_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/static/nope.js")).status_code == 404
    assert (await http.get("/static/../core/settings.py")).status_code == 404


async def test_head_graphql_is_get_without_a_body(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    head = await http.head("/graphql", headers={"Accept": "text/html"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == page.headers["content-type"]
    assert head.headers["content-length"] == str(len(page.content))
    query = await http.head("/graphql", params={"query": "{ __typename }"})
    assert query.status_code == 200
    assert query.content == b""
    assert query.headers["content-type"].startswith("application/json")
