"""GraphiQL and /docs in a real browser with no internet access.

Debian's chromium (tests/browser.py) loads each page from the test server
with every other host unreachable, then does what the README tells a user
to do: log in, run the products query, put the token in the headers and
watch a subscription in GraphiQL; authorize and "Try it out" in /docs.
The page must ask for nothing outside 127.0.0.1, log no console error (a
CSP violation, a missing font or a refused integrity hash are errors) and
leave no token in localStorage.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from playwright.async_api import Locator, Page

from comptoir import demo
from tests import readme
from tests.browser import Tab, offline_tab
from tests.harness import Service

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LOGIN = readme.operation("mutation { login(")
PRODUCTS = readme.operation("query { products(")
ROOM_SUBSCRIPTION = readme.operation('subscription { roomMessages(room: "general"')
SEND = 'mutation { sendMessage(room: "general", content: "%s") { id } }'

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT = ".result-window .CodeMirror"


async def set_editor(page: Page, selector: str, text: str) -> None:
    await page.locator(selector).first.evaluate("(el, text) => el.CodeMirror.setValue(text)", text)
    # GraphiQL takes the edit in (its tab state, saved to sessionStorage)
    # after a debounce; run only once it has.
    await page.wait_for_function(
        "text => Object.values(sessionStorage).some(v => v.includes(JSON.stringify(text)))",
        arg=text,
    )


async def run_and_wait(page: Page, text_in_result: str) -> Any:
    await page.get_by_label("Execute query (Ctrl-Enter)").click()
    await page.wait_for_function(
        "([selector, text]) => document.querySelector(selector).CodeMirror.getValue()"
        ".includes(text)",
        arg=[RESULT, text_in_result],
    )
    value = await page.locator(RESULT).evaluate("el => el.CodeMirror.getValue()")
    return json.loads(value)


def assert_offline_and_clean(tab: Tab) -> None:
    assert tab.blocked == [], "the page asked for hosts outside 127.0.0.1"
    assert tab.errors == [], "the page logged console errors"


async def test_graphiql_runs_the_readme_queries_and_a_subscription_offline(
    service: Service, http: httpx.AsyncClient
) -> None:
    await demo.seed_if_empty()
    async with offline_tab() as tab:
        page = tab.page
        await page.goto(f"{service.http_url}/graphql")
        await page.get_by_label("Execute query (Ctrl-Enter)").wait_for()

        await set_editor(page, QUERY_EDITOR, LOGIN)
        token = (await run_and_wait(page, "accessToken"))["data"]["login"]["accessToken"]
        assert token.count(".") == 2

        await page.get_by_role("button", name="Headers").click()
        await set_editor(page, HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {token}"}))
        await set_editor(page, QUERY_EDITOR, PRODUCTS)
        products = (await run_and_wait(page, "totalCount"))["data"]["products"]
        assert products["totalCount"] == len(demo.PRODUCTS)
        names = [edge["node"]["name"] for edge in products["edges"]]
        assert names == [name for name, *_ in demo.PRODUCTS]

        # The subscription replays what is stored after "0", then goes live.
        auth = {"Authorization": f"Bearer {token}"}
        stored = await http.post("/graphql", json={"query": SEND % "stored"}, headers=auth)
        assert stored.json()["data"]["sendMessage"]["id"]
        await set_editor(page, QUERY_EDITOR, ROOM_SUBSCRIPTION)
        replayed = (await run_and_wait(page, '"stored"'))["data"]["roomMessages"]
        assert replayed["author"]["displayName"] == "Test Admin"
        live = await http.post("/graphql", json={"query": SEND % "live one"}, headers=auth)
        live_id = live.json()["data"]["sendMessage"]["id"]
        pushed = await page.wait_for_function(
            "([selector, text]) => document.querySelector(selector).CodeMirror.getValue()"
            ".includes(text)",
            arg=[RESULT, '"live one"'],
        )
        assert await pushed.json_value()
        value = await page.locator(RESULT).evaluate("el => el.CodeMirror.getValue()")
        assert json.loads(value)["data"]["roomMessages"]["id"] == live_id

        # Queries went over HTTP with the token; nothing was kept in localStorage.
        assert ("POST", "/graphql", f"Bearer {token}") in tab.requests
        assert await page.evaluate("() => localStorage.length") == 0
        assert token in json.dumps(await page.evaluate("() => ({...sessionStorage})"))
        assert_offline_and_clean(tab)


async def try_it_out(page: Page, method: str, path: str) -> Locator:
    operation = page.locator(f".opblock-{method}", has=page.locator(f'[data-path="{path}"]'))
    operation = operation.first
    await operation.locator(".opblock-summary").click()
    await operation.locator("button.try-out__btn").click()
    return operation


async def execute(operation: Locator) -> tuple[int, Any]:
    await operation.locator("button.execute").click()
    row = operation.locator(".live-responses-table tbody .response").first
    await row.locator(".response-col_description pre").first.wait_for()
    status = int((await row.locator(".response-col_status").inner_text()).strip())
    body = await row.locator(".response-col_description pre").first.inner_text()
    return status, json.loads(body)


async def test_docs_page_authorizes_and_tries_products_offline(
    service: Service, http: httpx.AsyncClient
) -> None:
    await demo.seed_if_empty()
    login = await http.post(
        "/login", json={"email": "test@test.com", "password": demo.DEMO_PASSWORD}
    )
    token = login.json()["access_token"]
    async with offline_tab() as tab:
        page = tab.page
        await page.goto(f"{service.http_url}/docs")
        await page.locator("button.authorize").first.click()
        await page.locator(".auth-container input").first.fill(token)
        await page.locator(".auth-container button.authorize").first.click()
        await page.locator("button.btn-done").first.click()

        create = await try_it_out(page, "post", "/products")
        body = {"name": "Docs mug", "price": 12.5, "stock": 3}
        await create.locator("textarea.body-param__text").fill(json.dumps(body))
        status, created = await execute(create)
        assert status == 201
        assert created["name"] == "Docs mug"

        listing = await try_it_out(page, "get", "/products")
        # The search box comes filled with the documented example ("cup").
        search = listing.locator('tr[data-param-name="q"] input')
        assert await search.input_value() == "cup"
        await search.fill("")
        status, products = await execute(listing)
        assert status == 200
        names = [p["name"] for p in products]
        assert names == [name for name, *_ in demo.PRODUCTS] + ["Docs mug"]

        # The write carried the token; GET /products is public (no security).
        assert ("POST", "/products", f"Bearer {token}") in tab.requests
        assert await page.evaluate("() => localStorage.length") == 0
        assert_offline_and_clean(tab)
