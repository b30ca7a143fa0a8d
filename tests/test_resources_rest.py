"""REST /ressources (and /resources): listing, ADMIN creation, safe links."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from resolvers import limits
from tests.conftest import Account, MakeAccount
from tests.files_helpers import upload
from tests.helpers import BAD_URLS, listener

KEYS = {"id", "title", "description", "kind", "url", "file_id", "created_at"}


async def create(
    http: httpx.AsyncClient, account: Account | None, body: dict[str, Any]
) -> httpx.Response:
    headers = account.headers if account else {}
    return await http.post("/ressources", json=body, headers=headers)


async def test_admin_creates_link_and_everyone_signed_in_lists_it(
    http: httpx.AsyncClient, admin: Account, member: Account
) -> None:
    # Given an ADMIN who adds a link
    response = await create(
        http,
        admin,
        {
            "title": "Onboarding",
            "description": "Start here",
            "kind": "TUTORIAL",
            "url": "https://intranet.example.com/onboarding?step=1#top",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == KEYS
    assert created["title"] == "Onboarding"
    assert created["kind"] == "TUTORIAL"
    assert created["url"] == "https://intranet.example.com/onboarding?step=1#top"
    assert created["file_id"] is None
    # Then a member sees it under both spellings of the path
    for path in ("/ressources", "/resources"):
        listed = await http.get(path, headers=member.headers)
        assert listed.status_code == 200
        assert listed.json() == [created]


async def test_kind_filter_and_paging(http: httpx.AsyncClient, admin: Account) -> None:
    kinds = ["DOCUMENT", "LINK", "VIDEO", "LINK", "OTHER"]
    ids = []
    for index, kind in enumerate(kinds):
        body = {"title": f"r{index}", "kind": kind, "url": f"http://example.com/{index}"}
        ids.append((await create(http, admin, body)).json()["id"])

    links = await http.get("/ressources?kind=LINK", headers=admin.headers)
    assert [r["id"] for r in links.json()] == [ids[1], ids[3]]
    lower = await http.get("/resources?kind=video", headers=admin.headers)
    assert [r["id"] for r in lower.json()] == [ids[2]]
    page = await http.get("/ressources?limit=2&offset=1", headers=admin.headers)
    assert [r["id"] for r in page.json()] == ids[1:3]
    # No kind given: the default is DOCUMENT.
    default = await create(http, admin, {"title": "d", "url": "https://example.com"})
    assert default.json()["kind"] == "DOCUMENT"

    for query in ("kind=PODCAST", "kind=%00", "limit=-1", "offset=x"):
        bad = await http.get(f"/ressources?{query}", headers=admin.headers)
        assert bad.status_code == 422, query
        assert bad.json()["error"]["code"] == "BAD_USER_INPUT"


async def test_resource_with_a_file_is_downloadable_by_every_member(
    http: httpx.AsyncClient, admin: Account, make_account: MakeAccount
) -> None:
    # Given a file that an ADMIN uploaded and linked from a resource
    uploaded = (await upload(http, admin, b"%PDF-1.7 handbook", filename="handbook.pdf")).json()
    reader = await make_account()
    assert (await http.get(uploaded["url"], headers=reader.headers)).status_code == 404
    response = await create(http, admin, {"title": "Handbook", "file_id": uploaded["id"]})
    assert response.status_code == 201, response.text
    assert response.json()["file_id"] == uploaded["id"]
    assert response.json()["url"] is None
    # Then any member downloads it
    download = await http.get(uploaded["url"], headers=reader.headers)
    assert download.status_code == 200
    assert download.content == b"%PDF-1.7 handbook"
    assert download.headers["content-disposition"].startswith("attachment;")
    # but does not list it among their files, nor delete it
    assert (await http.get("/files", headers=reader.headers)).json() == []
    assert (await http.delete(uploaded["url"], headers=reader.headers)).status_code == 403
    assert (await http.get(uploaded["url"])).status_code == 401


async def test_member_cannot_create_and_anonymous_cannot_list(
    http: httpx.AsyncClient, member: Account
) -> None:
    body = {"title": "Mine", "url": "https://example.com"}
    forbidden = await create(http, member, body)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "FORBIDDEN"
    anonymous = await create(http, None, body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    for path in ("/ressources", "/resources"):
        assert (await http.get(path)).status_code == 401
    assert (await http.get("/ressources", headers=member.headers)).json() == []


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.domain)//http://x",
        " javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "ftp://example.com/file",
        "//evil.example.com/path",
        "/relative/path",
        "example.com",
        "http://",
        "https:///nohost",
        "http://user:pass@example.com/",
        "http://exa mple.com/",
        "http://example.com/\nSet-Cookie: x",
        "http://example.com:99999/",
        "https://example.com/" + "a" * 2100,
        "",
        123,
        ["https://example.com"],
    ],
)
async def test_unsafe_urls_are_refused(http: httpx.AsyncClient, admin: Account, url: Any) -> None:
    response = await create(http, admin, {"title": "Bad", "url": url})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "BAD_USER_INPUT"
    assert (await http.get("/ressources", headers=admin.headers)).json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"title": "Neither"},
        {"title": "Both", "url": "https://example.com", "file_id": 1},
        {"title": "No such file", "file_id": 999999},
        {"title": "Bad file id", "file_id": "abc"},
        {"url": "https://example.com"},
        {"title": "", "url": "https://example.com"},
        {"title": "x" * (limits.RESOURCE_TITLE_MAX + 1), "url": "https://example.com"},
        {"title": "Bad kind", "kind": "PODCAST", "url": "https://example.com"},
        {"title": "Bad description", "description": 5, "url": "https://example.com"},
    ],
)
async def test_invalid_resources_are_refused(
    http: httpx.AsyncClient, admin: Account, body: dict[str, Any]
) -> None:
    await upload(http, admin, b"so that file 1 exists")
    response = await create(http, admin, body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "BAD_USER_INPUT"
    assert (await http.get("/ressources", headers=admin.headers)).json() == []


async def test_bad_bodies_are_refused(http: httpx.AsyncClient, admin: Account) -> None:
    for content, content_type, status in (
        (b"{not json", "application/json", 422),
        (b"[]", "application/json", 422),
        (b"title=x", "application/x-www-form-urlencoded", 415),
    ):
        response = await http.post(
            "/ressources", content=content, headers={**admin.headers, "Content-Type": content_type}
        )
        assert response.status_code == status, response.text


async def test_mass_assignment_fields_are_ignored(http: httpx.AsyncClient, admin: Account) -> None:
    response = await create(
        http,
        admin,
        {
            "id": 4242,
            "created_at": "2000-01-01T00:00:00Z",
            "created_by": 99,
            "owner_id": 99,
            "title": "Plain",
            "url": "https://example.com",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["id"] != 4242
    assert not response.json()["created_at"].startswith("2000")


async def test_the_server_never_fetches_a_url(http: httpx.AsyncClient, admin: Account) -> None:
    # A link to a port where nothing listens is stored as given, at once.
    url = "http://127.0.0.1:9/never-fetched"
    response = await create(http, admin, {"title": "Dead link", "url": url, "kind": "LINK"})
    assert response.status_code == 201
    assert response.json()["url"] == url


async def test_openapi_describes_the_resource_paths(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    for path in ("/ressources", "/resources"):
        assert set(spec["paths"][path]) == {"get", "post"}
        assert {"201", "401", "403", "422"} <= set(spec["paths"][path]["post"]["responses"])
    schema = spec["components"]["schemas"]["Resource"]
    assert set(schema["required"]) == KEYS


@pytest.mark.checklist(26, "rest")
async def test_only_http_urls_and_nothing_fetched_on_rest(
    http: httpx.AsyncClient, admin: Account
) -> None:
    for url in BAD_URLS:
        response = await http.post(
            "/resources", json={"title": "t", "kind": "LINK", "url": url}, headers=admin.headers
        )
        assert response.status_code == 422, url
        assert response.json()["error"]["code"] == "BAD_USER_INPUT"
    server, hits = await listener()
    port = server.sockets[0].getsockname()[1]
    try:
        for url in (f"http://127.0.0.1:{port}/internal", f"https://127.0.0.1:{port}/x"):
            created = await http.post(
                "/resources", json={"title": "t", "kind": "LINK", "url": url}, headers=admin.headers
            )
            assert created.status_code == 201
            assert created.json()["url"] == url
        await http.get("/resources", headers=admin.headers)
        await asyncio.sleep(0.3)
        assert hits == []
    finally:
        server.close()
        await server.wait_closed()
    assert len((await http.get("/resources", headers=admin.headers)).json()) == 2
