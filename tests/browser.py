"""A real browser for the pages: Debian's chromium driven by Playwright, offline.

The browser is the system's ``/usr/bin/chromium`` (``make test`` installs it
with apt-get; Playwright's own browser download is never used). Everything
but 127.0.0.1 is unreachable twice over: chromium resolves no other host,
and every request the page makes goes through a route that aborts any other
host and records it, so a test can assert that the page asked for nothing
outside. Console errors and uncaught exceptions (a CSP violation is one) are
recorded too.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.async_api import Page, Route, async_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OFFLINE_ARGS = [
    # No name resolves but the loopback address; no proxy may be picked up.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Tab:
    page: Page
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # (method, path, Authorization header) of every request to the server.
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)


@asynccontextmanager
async def offline_tab() -> AsyncIterator[Tab]:
    executable = shutil.which(CHROMIUM)
    assert executable, f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=OFFLINE_ARGS)
        try:
            context = await browser.new_context()
            page = await context.new_page()
            tab = Tab(page)

            async def only_loopback(route: Route) -> None:
                request = route.request
                parts = urlsplit(request.url)
                if parts.scheme in {"data", "blob"} or parts.hostname == "127.0.0.1":
                    tab.requests.append(
                        (request.method, parts.path, request.headers.get("authorization"))
                    )
                    await route.continue_()
                else:
                    tab.blocked.append(request.url)
                    await route.abort("internetdisconnected")

            await context.route("**/*", only_loopback)
            page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: tab.errors.append(str(e)))
            yield tab
        finally:
            await browser.close()
